"""The pseudonym that stands for a person wherever they are counted or logged.

Quota counters, alerts and audit events never store the `user` string a client sent, only
`pseudonym()` of it: a keyed hash (HMAC-SHA256 with DIHYA_PSEUDONYM_KEY), stable so that
records of one person can be found, erased or exported, and meaningless without the key.
Changing the key unlinks every record from its person. This module must never log its input.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def pseudonym(end_user: str) -> str:
    key = (settings.DIHYA_PSEUDONYM_KEY or settings.SECRET_KEY).encode()
    return "p_" + hmac.new(key, end_user.encode(), hashlib.sha256).hexdigest()[:32]


def person_at(client: str, subject: str) -> str:
    """The pseudonym of one person as a client knows them: of the client's name and the
    `pseudonym()` of their id there ("" for the account itself, whatever client acted).

    Ids are per client, so the pseudonym of a raw `user` string alone would make shop's "42"
    and clinic's "42" one person. This one is computed from a subject pseudonym rather than
    from the raw id, so that events that hold only the subject can be given it later."""
    key = (settings.DIHYA_PSEUDONYM_KEY or settings.SECRET_KEY).encode()
    message = f"person\x1f{client}\x1f{subject}".encode()
    return "q_" + hmac.new(key, message, hashlib.sha256).hexdigest()[:32]
