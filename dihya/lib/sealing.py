"""Secrets Dihya must read back (to sign with them), kept encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) under DIHYA_ENCRYPTION_KEY — the same comma-separated key
list as engine credentials (`fallbacks.secrets`), the first one current — or, unset, the same
key derived from SECRET_KEY: so one rotation of DIHYA_ENCRYPTION_KEY, with the same old key
kept after the new one, covers both. A secret that must be read back cannot be hashed; this
module is for those only (API keys are hashed, never sealed). It never logs a secret, nor
returns one but to its caller.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SealError(Exception):
    """A sealed secret cannot be opened (wrong or rotated key)."""


def _fernet() -> MultiFernet:
    configured = [k.strip() for k in settings.DIHYA_ENCRYPTION_KEY.split(",") if k.strip()]
    derived = base64.urlsafe_b64encode(
        hashlib.sha256(f"dihya-engine-secrets:{settings.SECRET_KEY}".encode()).digest())
    return MultiFernet([Fernet(k) for k in ([k.encode() for k in configured] or [derived])])


def seal(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SealError("a sealed secret cannot be opened with the configured key") from exc


def reseal(token: str) -> str:
    """Re-encrypt under the current (first) key, during a rotation of DIHYA_ENCRYPTION_KEY."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SealError("a sealed secret cannot be opened with the configured key") from exc


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)
