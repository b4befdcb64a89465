"""The thread hop of async views into synchronous database work, on a few long-lived threads.

`sync_to_async` defaults to thread-sensitive mode, and Django runs every ASGI request in its own
thread-sensitive context: each request then gets a fresh thread, and with it a fresh database
connection (Django's connections are per thread). Measured (docs/benchmarks.md): on SQLite,
opening and closing that connection (a WAL checkpoint on close) cost about 15 % of the
gateway's CPU; on PostgreSQL with CONN_MAX_AGE, the connections of finished threads stay open
until garbage collection and fifty concurrent calls exhausted `max_connections` ("too many
clients", HTTP 500).

`db(fn)` runs `fn` on a small fixed pool of threads instead (DIHYA_DB_THREADS per process), so a
web process holds at most that many connections and reuses them. Each hop ends with the
connection hygiene Django applies at the end of a request: a connection past CONN_MAX_AGE, left
outside autocommit, or broken by an error is closed (so a database restart costs one failed
hop, not a dead thread). Unlike `close_old_connections`, it does not ask for a health check
(`SELECT 1`) before the next use: that would be one more round trip per hop.

Only for self-contained units of work (their own transactions; no thread-local state expected
to survive between hops). Must never be used for code that needs the request's thread.

Two borrowings are fenced (`dihya.lib.fences`, warned by `manage.py check`): asgiref's
private `AsyncToSync.executors` (`SYNC_CALLER`; on another asgiref every hop is plain
`sync_to_async`, a thread per request as stock Django does) and the state Django keeps on a
connection (`CONNECTION_STATE`; on another Django the hygiene is Django's own
`close_if_unusable_or_obsolete`, with its health check if configured).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import AsyncToSync, sync_to_async
from django.conf import settings
from django.db import connection, connections

from dihya.lib import fences, memo

SYNC_CALLER = fences.fence(
    "asgiref", "==3.13.*", where="dihya.generation.hops",
    borrows="AsyncToSync.executors (whether a synchronous caller waits)",
    until="asgiref offers a public way to ask whether a synchronous caller waits, or Django "
          "gives each request's database work a shared pool of threads")
CONNECTION_STATE = fences.fence(
    "django", "==5.2.*", where="dihya.generation.hops.tidy",
    borrows="BaseDatabaseWrapper.close_at and errors_occurred",
    until="Django's close_if_unusable_or_obsolete can skip its health check per call")

P = ParamSpec("P")
T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=settings.DIHYA_DB_THREADS,
                                           thread_name_prefix="dihya-db")
        return _executor


def db(fn: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """`await db(fn)(*args)`: run `fn` on a database thread of this process.

    Called under a synchronous caller that waits for us (Django's test client, a sync-only
    middleware: asgiref's AsyncToSync), `fn` runs on that caller's thread instead, as plain
    `sync_to_async` would: it may hold a transaction whose rows `fn` must see."""
    hop = _hops.get(fn)
    if hop is None:
        hop = _hops[fn] = _make(fn)
    return hop


_hops: dict[Callable, Callable] = {}


def _make(fn: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    inline = sync_to_async(fn)
    if not SYNC_CALLER.holds():  # the stock path: Django's own thread per request
        return inline

    def hygienic(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            with memo.read_once():  # the hop's stamps (key, route, people): one round trip
                return fn(*args, **kwargs)
        finally:
            tidy()

    pooled = sync_to_async(hygienic, thread_sensitive=False, executor=executor())

    @functools.wraps(fn)
    async def hop(*args: P.args, **kwargs: P.kwargs) -> T:
        if under_sync_caller():
            return await inline(*args, **kwargs)
        return await pooled(*args, **kwargs)

    return hop


def under_sync_caller() -> bool:
    """Whether a synchronous caller waits for this coroutine through asgiref's AsyncToSync.

    asgiref has no public way to ask; `AsyncToSync.executors.current` (a thread-local it sets
    for the coroutines it runs) is the only sign. This is the one place that reads it;
    tests/test_hops.py pins both answers, so an asgiref upgrade that changes it fails there.
    """
    return getattr(AsyncToSync.executors, "current", None) is not None


def tidy() -> None:
    own = CONNECTION_STATE.holds()
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if not own:
            conn.close_if_unusable_or_obsolete()
            continue
        obsolete = conn.close_at is not None and time.monotonic() >= conn.close_at
        if obsolete or conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"] or (
                conn.errors_occurred and not conn.is_usable()):
            conn.close()
        else:
            conn.errors_occurred = False


_writer = threading.RLock()


@contextlib.contextmanager
def one_writer() -> Iterator[None]:
    """Threads of this process take turns to write to SQLite, here, before asking SQLite.

    SQLite has one writer at a time, and a connection that finds the write lock taken sleeps
    and polls (1, 2, 5, 10… ms: its busy handler) however soon the lock is free: with
    admissions and the recorder writing from several threads, those sleeps landed in the
    calls' latency. A Python lock is handed over at once. Other processes still wait in
    SQLite's busy handler. PostgreSQL locks rows, not the database: nothing to do there."""
    if connection.vendor != "sqlite":
        yield
        return
    with _writer:
        yield
