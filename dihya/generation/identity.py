"""Who an end user is: the Dihya account behind the `user` string a client sends.

People are per client. A client that serves end users names them by its own ids by default:
such an id reaches only a person that client has met (a consent link or the consent API made
their identity at that client) or one an admin linked for every client. A client may declare
instead that its `user` values are Dihya usernames, e-mail addresses, or the `sub` of the
organisation's identity provider (`ApiClient.user_ids`): then a person who signed in to Dihya
with that provider is the person the app names.

A client that does not serve end users has no people: its `user` is a label, resolved to
nobody, charged to nobody, in nobody's export. Operators (no client) name accounts by
username. Where people are counted or logged they appear only as `dihya.lib.pseudonyms`.

Who a call is for and whether they consent are remembered per process between calls: two
queries that give the same answer call after call, behind the "people stamp"
(`dihya.lib.memo`). Anything that can change an answer forgets them: an account saved or
deleted (deactivated, erased), an identity made or removed, a consent granted or withdrawn, a
new policy version. Withdrawal therefore still stops the next call at once (in every process
with Redis; see dihya.lib.memo without). Connected in `PrivacyConfig.ready()` through
`dihya.privacy.receivers`, so that every process that can change people (web, workers,
`manage.py`) forgets.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models.signals import post_delete, post_save

from audit import identities
from audit.models import Consent, ExternalIdentity, Purpose
from audit.signals import consent_withdrawn
from dihya.gateway.models import ApiClient, Generation
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


def resolve(client: ApiClient | None, end_user: str) -> AbstractBaseUser | None:
    """The Dihya account behind a client's `user` value, or None if there is none.

    Remembered between calls (forgotten on any change to accounts or identities:
    above); the client's own settings are part of what is remembered by."""
    if not end_user:
        return None
    how = None if client is None else (client.pk, client.end_users, client.user_ids)
    return remembered.get(("resolve", how, end_user), lambda: _resolve(client, end_user))


def _resolve(client: ApiClient | None, end_user: str) -> AbstractBaseUser | None:
    if client is None:
        return _by_field(get_user_model().USERNAME_FIELD, end_user)
    if not client.end_users:
        return None
    if client.user_ids == "username":
        return _by_field(get_user_model().USERNAME_FIELD, end_user) or identities.find(
            client.pk, end_user)
    if client.user_ids == "sub":
        found = identities.find_sso(end_user)
        return found if found is not None and found.is_active else identities.find(
            client.pk, end_user)
    if client.user_ids == "email":
        return _by_field("email", end_user) or identities.find(client.pk, end_user)
    return identities.find(client.pk, end_user)


def _by_field(field: str, value: str) -> AbstractBaseUser | None:
    found = list(get_user_model()._default_manager.filter(**{f"{field}__iexact" if field == "email"
                                                             else field: value},
                                                          is_active=True)[:2])
    return found[0] if len(found) == 1 else None  # two accounts share an e-mail: nobody


def charged_as(generation: Generation) -> str:
    """The name a generation's per-person limits are counted under, "" for none: the person's
    account (so their usage is one count, whatever client names them and how), only for
    calls made for a resolved person by a client that serves end users, or by an operator."""
    if not generation.end_user or generation.user_id is None:
        return ""
    client = generation.client
    if client is not None and not client.end_users:
        return ""
    user = generation.user
    return user.get_username() if user is not None else ""


def has_served(client: ApiClient | None, user: AbstractBaseUser) -> bool:
    """Whether this client knows this person: it made their identity (a link, the API), or an
    admin's id names them and the client called for them, or it generated for them. What a
    client may read or ask about a person (`?user=`, consents, data requests) stops here."""
    if client is None:
        return True  # operators
    if not client.end_users:
        return False
    return (identities.has_identity_at(user, client.pk)
            or Generation.objects.filter(client=client, user=user).exists())


def person_for(client: ApiClient, end_user: str, *, source: str) -> AbstractBaseUser:
    """The person a client's `user` names, made with their identity at that client if new
    (the consent API: the client brings someone Dihya has not met)."""
    return resolve(client, end_user) or identities.person_for(client.pk, end_user, source=source)
