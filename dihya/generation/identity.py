"""Who an end user is, and the pseudonym that stands for them wherever they are counted or logged.

Clients name the person a call is for in OpenAI's `user` field. That string maps to a Dihya
account by username (see README, "End users"). Quota counters, alerts and audit events never
store the string itself, only `pseudonym()`: a keyed hash (HMAC-SHA256 with
DIHYA_PSEUDONYM_KEY), stable so records of one person can be found, erased or exported, and
meaningless without the key.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser


def pseudonym(end_user: str) -> str:
    key = (settings.DIHYA_PSEUDONYM_KEY or settings.SECRET_KEY).encode()
    return "p_" + hmac.new(key, end_user.encode(), hashlib.sha256).hexdigest()[:32]


def resolve(end_user: str) -> AbstractBaseUser | None:
    """The Dihya account behind a client's `user` value, or None if there is none.

    The username first; else the external id an admin linked to an account (audit's
    ExternalIdentity), for clients that know people by their own ids.
    """
    if not end_user:
        return None
    User = get_user_model()
    found = User._default_manager.filter(**{User.USERNAME_FIELD: end_user}, is_active=True).first()
    if found is None:
        found = User._default_manager.filter(external_identity__external_id=end_user,
                                             is_active=True).first()
    return found
