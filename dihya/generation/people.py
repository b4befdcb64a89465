"""Who a call is for and whether they consent, remembered per process between calls.

Every call of a client that serves end users resolves its `user` to a person and asks whether
they consent: two queries that give the same answer call after call. Both are remembered
behind the "people stamp" (`dihya.lib.memo`), and anything that can change an answer forgets
them: an account saved or deleted (deactivated, erased), an identity made or removed, a
consent granted or withdrawn, a new policy version. Withdrawal therefore still stops the next
call at once (in every process with Redis; see dihya.lib.memo without). Connected in
`PrivacyConfig.ready()` through `dihya.privacy.receivers`, so that every process that can
change people (web, workers, `manage.py`) forgets.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save

from audit.models import Consent, ExternalIdentity, Purpose
from audit.signals import consent_withdrawn
from dihya.lib.memo import Remembered

remembered: Remembered[Any] = Remembered(
    "dihya:people:stamp", lambda: settings.DIHYA_PEOPLE_CACHE_SECONDS)


def forget(sender: Any = None, **kwargs: Any) -> None:
    remembered.forget()


def connect() -> None:
    for model in (get_user_model(), ExternalIdentity, Consent, Purpose):
        post_save.connect(forget, sender=model, dispatch_uid=f"people-{model.__name__}-save")
        post_delete.connect(forget, sender=model, dispatch_uid=f"people-{model.__name__}-del")
    consent_withdrawn.connect(forget, dispatch_uid="people-withdrawn")
