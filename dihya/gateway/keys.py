"""API keys: issue, verify, revoke.

A key is `dk-` + 256 random bits. Only its SHA-256 is stored (a slow hash buys nothing for a
random 256-bit secret) with a visible prefix to tell keys apart and to find the row; the
digest is then compared in constant time.

A verified key is remembered in this process for `DIHYA_KEY_CACHE_SECONDS` so a busy client
costs no query per request; a key found unknown (revoked, mistyped, retried in a loop) is
remembered as unknown for as long, in a table as bounded. Revocation must still act at once,
so every remembered entry carries the "key stamp" read from Django's cache when it was
loaded: any change to a key or a client (revoke, deactivate, routes edited) writes a new stamp
once committed, and an entry whose stamp no longer matches is reloaded. With Redis as the
cache this holds across every web process; with the embedded local-memory cache it holds
within a process, and another process's edit (say a `manage.py` command) is seen at most
`DIHYA_KEY_CACHE_SECONDS` later. Expiry is checked on
every request against the clock.

When the cache is down (Redis restarting), keys are checked against the database on every
request instead: slower for a while, but neither a refused call nor a trusted stale entry.
The database is the truth; the stamp only says when a remembered entry may be reused.

`last_used` is written at most once a minute per key and process, by a conditional UPDATE,
never on every request. This module must never store or log a key in clear.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from dihya.gateway.models import ApiClient, ApiKey
from dihya.lib.memo import Stamp

log = logging.getLogger(__name__)

KEY_PREFIX = "dk-"
PREFIX_LENGTH = 12  # "dk-" + 9 characters shown in the admin
STAMP = "dihya:api-keys:stamp"
_stamp = Stamp(STAMP)
TOUCH_EVERY = timedelta(seconds=60)
MAX_REMEMBERED = 10_000


@dataclass(slots=True)
class Verified:
    """What a valid key grants: its client and the ids of the routes it may use."""

    key_id: int
    client: ApiClient
    routes: frozenset[int]
    scopes: frozenset[str]
    expires: datetime | None
    last_used: datetime | None
    stamp: object = None
    loaded: float = field(default_factory=time.monotonic)


_remembered: dict[str, Verified] = {}
# Keys found unknown (digest → (stamp, when)): by digest, not by prefix, so that wrong keys
# sharing a real key's visible prefix cannot make this process refuse the real one.
_unknown: dict[str, tuple[object, float]] = {}


def digest_of(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(client: ApiClient, *, name: str = "", expires: datetime | None = None,
          scopes: frozenset[str] = frozenset({"chat", "jobs"})) -> tuple[ApiKey, str]:
    """Create a key for `client`. The raw key is returned once and stored nowhere."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(client=client, name=name, prefix=raw[:PREFIX_LENGTH],
                                digest=digest_of(raw), expires=expires,
                                **ApiKey.scope_fields(scopes))
    return key, raw


def revoke(key: ApiKey) -> bool:
    """Revoke a key now. True if it was not revoked already."""
    done = ApiKey.objects.filter(pk=key.pk, revoked__isnull=True).update(revoked=timezone.now())
    changed()  # update() sends no signal
    return bool(done)


def verify(raw: str) -> Verified | None:
    """The grant behind a raw key, or None if it is unknown, revoked, expired or inactive."""
    if not raw.startswith(KEY_PREFIX) or len(raw) > 100:
        return None
    digest = digest_of(raw)
    stamp = current_stamp()
    verified = _remembered.get(digest)
    fresh = (verified is not None and verified.stamp == stamp
             and time.monotonic() - verified.loaded < settings.DIHYA_KEY_CACHE_SECONDS)
    if not fresh:
        if _known_unknown(digest, stamp):
            return None
        verified = _load(raw, digest, stamp)
        if verified is None:
            _remembered.pop(digest, None)
            if len(_unknown) >= MAX_REMEMBERED:
                _unknown.clear()
            _unknown[digest] = (stamp, time.monotonic())
            return None
        if len(_remembered) >= MAX_REMEMBERED:
            _remembered.clear()
        _remembered[digest] = verified
    assert verified is not None
    now = timezone.now()
    if verified.expires is not None and verified.expires <= now:
        return None
    _touch(verified, now)
    return verified


def _known_unknown(digest: str, stamp: object) -> bool:
    """Whether this key was found unknown lately, under the current stamp (a new key, or one
    restored, changes the stamp: then it is looked up again)."""
    seen = _unknown.get(digest)
    return (seen is not None and seen[0] == stamp
            and time.monotonic() - seen[1] < settings.DIHYA_KEY_CACHE_SECONDS)


def current_stamp() -> object:
    """The key stamp, or, with the cache down, a new object that matches no remembered entry
    (so every key is checked against the database until the cache is back). Read with the
    other stamps of the hop in one round trip (dihya.lib.memo)."""
    return _stamp.read()


def _load(raw: str, digest: str, stamp: object) -> Verified | None:
    candidates = (ApiKey.objects.select_related("client")
                  .filter(prefix=raw[:PREFIX_LENGTH], revoked__isnull=True, client__active=True))
    for key in candidates:
        if hmac.compare_digest(key.digest, digest):
            routes = frozenset(key.client.routes.values_list("id", flat=True))
            return Verified(key.pk, key.client, routes, key.scopes, key.expires, key.last_used,
                            stamp)
    return None


def _touch(verified: Verified, now: datetime) -> None:
    """Record use at most once per TOUCH_EVERY, in one conditional statement."""
    if verified.last_used is not None and now - verified.last_used < TOUCH_EVERY:
        return
    verified.last_used = now
    (ApiKey.objects.filter(pk=verified.key_id)
     .filter(Q(last_used__isnull=True) | Q(last_used__lt=now - TOUCH_EVERY))
     .update(last_used=now))


def changed(using: str | None = None, **_: object) -> None:
    """A key or a client changed: make every process reload its keys once that is committed.

    Not before: a process that reloads while the edit is uncommitted reads the old row, and
    would remember it under the new stamp until DIHYA_KEY_CACHE_SECONDS ran out."""
    transaction.on_commit(forget_all, using=using)


def forget_all() -> None:
    """Make every process reload its keys now."""
    _remembered.clear()
    _unknown.clear()
    _stamp.renew(settings.DIHYA_KEY_CACHE_SECONDS)


def connect() -> None:
    """Any change to a key, a client or a client's routes makes every process reload keys."""
    for name, signal in (("save", post_save), ("delete", post_delete)):
        signal.connect(changed, sender=ApiKey, dispatch_uid=f"keys-{name}-key")
        signal.connect(changed, sender=ApiClient, dispatch_uid=f"keys-{name}-client")
    m2m_changed.connect(changed, sender=ApiClient.routes.through,
                        dispatch_uid="keys-m2m-routes")
