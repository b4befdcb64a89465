"""django-q2 entry point for retention. Thin: the work is in `dihya.privacy.erasure`."""

from __future__ import annotations

from dihya.privacy import erasure


def purge_expired() -> dict[str, int]:
    return erasure.purge_expired(by="schedule")
