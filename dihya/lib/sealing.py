"""Secrets Dihya must read back, kept encrypted at rest: one key per purpose.

A secret that must be read back (an engine's API key, to send it; a client's signing secret,
to sign with it) cannot be hashed; this module is for those only (Dihya's own API keys are
hashed, never sealed). Each kind of secret is sealed for a *purpose* (`ENGINE_KEYS`,
`SIGNING_SECRETS`) under its own Fernet key (AES-128-CBC + HMAC-SHA256), derived with
HKDF-SHA256 from DIHYA_ENCRYPTION_KEY and the purpose's label — or, that unset, from
SECRET_KEY. So a token copied from one column to another does not open: an engine key can
never be read back as a client's signing secret, nor the other way round.

DIHYA_ENCRYPTION_KEY is a comma-separated list of Fernet keys, the first current, the others
still opening what they sealed: a rotation puts the new key first, runs
`manage.py rotate_keys`, then drops the old one. Before per-purpose keys every secret was
sealed with one shared key (the configured key itself, or SHA-256 of a label and SECRET_KEY);
`legacy_sealer` opens those, for the migrations that re-seal old rows and for nothing else.

The cryptography needs no Django (`sealer` takes the key material); `for_purpose` reads it from
Django's settings. Never log a secret, nor return one but to the caller that asked.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENGINE_KEYS = "engine-keys"
SIGNING_SECRETS = "signing-secrets"
PURPOSES = (ENGINE_KEYS, SIGNING_SECRETS)

_LEGACY_LABEL = "dihya-engine-secrets:"  # the one shared fallback key of before


class SealError(Exception):
    """A sealed secret cannot be opened (wrong purpose, or a key no longer configured)."""


@dataclass(frozen=True, slots=True)
class Sealer:
    """Seals and opens the secrets of one purpose."""

    purpose: str
    fernet: MultiFernet

    def seal(self, plaintext: str) -> str:
        return self.fernet.encrypt(plaintext.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SealError(f"a sealed secret ({self.purpose}) cannot be opened with the "
                            "configured key") from exc

    def reseal(self, token: str) -> str:
        """The same secret sealed under the current (first) key, during a rotation."""
        try:
            return self.fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise SealError(f"a sealed secret ({self.purpose}) cannot be opened with the "
                            "configured key") from exc


def _configured(keys: str) -> list[bytes]:
    """The configured Fernet keys; a malformed one raises ValueError (check dihya.E001)."""
    configured = [k.strip().encode() for k in keys.split(",") if k.strip()]
    for key in configured:
        Fernet(key)
    return configured


def _derive(material: bytes, purpose: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=f"dihya-sealing:{purpose}".encode()).derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


@lru_cache(maxsize=32)
def sealer(purpose: str, keys: str, secret_key: str, *, from_secret_key: bool = False) -> Sealer:
    """The sealer of `purpose` under `keys` (DIHYA_ENCRYPTION_KEY as written), or SECRET_KEY.

    `from_secret_key` also opens what was sealed before DIHYA_ENCRYPTION_KEY was set (under
    SECRET_KEY), for `rotate_keys --from-secret-key` only. Cached on its arguments: a changed
    setting gives a new sealer, nothing to clear."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown sealing purpose {purpose!r}")
    materials = [base64.urlsafe_b64decode(k) for k in _configured(keys)]
    if not materials or from_secret_key:
        materials.append(secret_key.encode())
    return Sealer(purpose, MultiFernet([_derive(m, purpose) for m in materials]))


@lru_cache(maxsize=8)
def legacy_sealer(keys: str, secret_key: str) -> Sealer:
    """The shared key of before per-purpose keys: only to re-seal old rows."""
    configured = _configured(keys) or [base64.urlsafe_b64encode(
        hashlib.sha256(f"{_LEGACY_LABEL}{secret_key}".encode()).digest())]
    return Sealer("legacy", MultiFernet([Fernet(k) for k in configured]))


def from_legacy(purpose: str, token: str, keys: str, secret_key: str) -> str | None:
    """`token` sealed for `purpose`: as is if it already is, re-sealed if it was sealed with
    the shared key of before, None if neither opens it (left for `rotate_keys` to name)."""
    current = sealer(purpose, keys, secret_key)
    try:
        current.open(token)
        return token
    except SealError:
        pass
    try:
        return current.seal(legacy_sealer(keys, secret_key).open(token))
    except SealError:
        return None


def to_legacy(purpose: str, token: str, keys: str, secret_key: str) -> str | None:
    """The reverse of `from_legacy`, for a migration rolled back."""
    try:
        plaintext = sealer(purpose, keys, secret_key).open(token)
    except SealError:
        return None
    return legacy_sealer(keys, secret_key).seal(plaintext)


def for_purpose(purpose: str, *, from_secret_key: bool = False) -> Sealer:
    """The sealer of `purpose` under the deployment's settings."""
    from django.conf import settings

    return sealer(purpose, settings.DIHYA_ENCRYPTION_KEY, settings.SECRET_KEY,
                  from_secret_key=from_secret_key)


def seal(purpose: str, plaintext: str) -> str:
    return for_purpose(purpose).seal(plaintext)


def unseal(purpose: str, token: str) -> str:
    return for_purpose(purpose).open(token)


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)
