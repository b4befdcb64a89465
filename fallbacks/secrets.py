"""Engine credentials at rest.

Keys typed into the admin are sealed (`dihya.lib.sealing`, purpose `ENGINE_KEYS`: a key of
their own, distinct from the one sealing clients' signing secrets) before they touch the
database, and only opened in memory, right before a call. This module must never log, return
or render a plaintext key anywhere but to the provider that sends it.
"""

from __future__ import annotations

from dihya.lib import sealing

SecretError = sealing.SealError


def encrypt(plaintext: str) -> str:
    return sealing.seal(sealing.ENGINE_KEYS, plaintext)


def decrypt(token: str) -> str:
    return sealing.unseal(sealing.ENGINE_KEYS, token)


def rotate(token: str) -> str:
    """Re-seal under the current (first) key."""
    return sealing.for_purpose(sealing.ENGINE_KEYS).reseal(token)
