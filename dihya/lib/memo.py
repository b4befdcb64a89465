"""What a process remembers between requests, behind a stamp: configuration and people.

A call reads the same few rows every time (its route, the person behind `user`, whether they
consent): remembered per process, they cost no query. An edit must still apply on the next
request, so each remembered value carries the *stamp* read from Django's cache when it was
loaded. A change clears this process's values at once (`forget`) and writes a new stamp when
its transaction commits; a value whose stamp no longer matches is loaded again. With Redis as
the cache every process sees the change on its next request; with the embedded local-memory
cache another process sees it at most `seconds()` later (one web process serves `make run`).
With the cache down, every value is loaded every time: slower, never stale.

Cleared before the commit too, so that this process never serves the old value once more; a
value loaded from the uncommitted state meanwhile carries the old stamp and is dropped when
the commit writes the new one. The database stays the truth.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import time
import uuid
from collections.abc import Callable, Hashable, Iterator
from typing import Generic, TypeVar

from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches
from django.db import transaction

log = logging.getLogger(__name__)

V = TypeVar("V")

#: Every stamp's cache key, so that one unit of work reads them all in one round trip.
_keys: list[str] = []
#: Within `read_once()`: the stamps read for this unit of work (None until first asked).
_read: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar("stamps")
_UNREAD: dict[str, object] = {}


@functools.cache
def shared_cache() -> BaseCache:
    """One cache client for the whole process. Django's `cache` is one per thread and per
    async context: under ASGI each request got its own Redis client, pool and connection,
    so every stamp read paid a TCP connect (measured: a tenth of a call's CPU)."""
    return caches.create_connection(DEFAULT_CACHE_ALIAS)


@contextlib.contextmanager
def read_once() -> Iterator[None]:
    """Within this block every stamp is read at most once, all of them in one `get_many` on
    the first ask: a call's key, route and person checks cost one round trip to Redis, not
    four. A block is one short unit of work (a database hop): a change committed while it
    runs is seen by the next one."""
    token = _read.set(_UNREAD)
    try:
        yield
    finally:
        _read.reset(token)


class Stamp:
    """A value in the shared cache that changes whenever what it guards changes."""

    def __init__(self, key: str) -> None:
        self.key = key
        _keys.append(key)

    def read(self) -> object:
        """The current stamp, or, with the cache down, a new object no value matches."""
        read = _read.get(None)
        try:
            if read is None:
                return shared_cache().get(self.key)
            if read is _UNREAD:
                read = shared_cache().get_many(_keys)
                _read.set(read)
            return read.get(self.key)
        except Exception as exc:  # any backend's outage, e.g. redis.exceptions.ConnectionError
            log.warning("cache unavailable, %s is read from the database: %s", self.key, exc)
            return object()

    def renew(self, within: float) -> None:
        try:
            shared_cache().set(self.key, uuid.uuid4().hex, None)
        except Exception as exc:  # the change is committed; others see it on expiry
            log.warning("cache unavailable, other processes see this change of %s within "
                        "%ss: %s", self.key, within, exc)


class Remembered(Generic[V]):
    def __init__(self, stamp_key: str, seconds: Callable[[], float], limit: int = 10_000):
        self.stamp = Stamp(stamp_key)
        self.seconds = seconds
        self.limit = limit
        self.values: dict[Hashable, tuple[object, float, V]] = {}

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        stamp = self.stamp.read()
        seen = self.values.get(key)
        if (seen is not None and seen[0] == stamp
                and time.monotonic() - seen[1] < self.seconds()):
            return seen[2]
        value = load()
        if len(self.values) >= self.limit:  # keys come from clients: stay bounded
            self.values.clear()
        self.values[key] = (stamp, time.monotonic(), value)
        return value

    def forget(self) -> None:
        """A change: forget now in this process, and in every process once it commits."""
        self.values.clear()
        transaction.on_commit(self._new_stamp)

    def clear(self) -> None:
        """Forget in this process only (tests, whose rollbacks send no signal)."""
        self.values.clear()

    def _new_stamp(self) -> None:
        self.values.clear()
        self.stamp.renew(self.seconds())
