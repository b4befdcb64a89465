"""Who an end user is: the Dihya account behind the `user` string a client sends.

Clients name the person a call is for in OpenAI's `user` field. That string maps to a Dihya
account by username, or by an external id an admin linked to the account (see README, "End
users"). Where people are counted or logged they appear only as `dihya.lib.pseudonyms`.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser


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
