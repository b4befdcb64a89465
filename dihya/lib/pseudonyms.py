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
