"""A connection pool whose bookkeeping does not grow with the number of connections.

httpcore 1.0's pool re-examines every pooled connection twice per request (when the request
joins and when it leaves): it polls each socket to see whether the server closed it, and
counts idle connections once per connection (quadratic). A gateway keeps one connection per
request in flight to each engine, so at 50 concurrent calls that bookkeeping cost more CPU
than everything else the call does (measured: the client's CPU per request went from 0.9 ms
at concurrency 1 to 7.5 ms at 50 against an engine that answers at once). The same fixes are
proposed upstream (encode/httpcore#928, #1035) and not released.

This pool keeps httpcore's behaviour and its connection classes, and changes only how it
decides: a connection is polled when it is about to be reused (the only time a dead one
matters) and every pooled connection at most once per `SWEEP_EVERY` seconds (so expired
keep-alives are still closed); idle connections beyond `max_keepalive_connections` are
counted once and the oldest closed. tests/resilience/test_pool.py checks the behaviour it
must keep.

Unlike httpcore 1.0.9, a connection assigned a request in this pass is never closed to make
room for another (encode/httpcore#1110: it is still idle until its request starts, and was
picked as the spare, failing the request it had just been given).

It overrides a private method of `AsyncConnectionPool` and reads its private state, so it is
fenced (`POOL`, `dihya.lib.fences`): on any httpcore but the one it was read against,
`Transport` keeps httpx's stock pool and `manage.py check` warns. The fence can go, with this
module, when httpcore releases the fixes of #928/#1035 (linear bookkeeping) and #1110.
"""

from __future__ import annotations

import time

import httpcore
import httpx
from httpcore._async.interfaces import AsyncConnectionInterface

from dihya.lib import fences
from fallbacks import network

SWEEP_EVERY = 1.0

POOL = fences.fence(
    "httpcore", "==1.0.9", where="fallbacks.pool",
    borrows="AsyncConnectionPool._assign_requests_to_connections and its private state",
    until="httpcore releases linear pool bookkeeping (encode/httpcore#928, #1035) and the "
          "assigned-connection fix (#1110)")


class Pool(httpcore.AsyncConnectionPool):
    _swept_at = 0.0

    def _assign_requests_to_connections(self) -> list[AsyncConnectionInterface]:
        closing: list[AsyncConnectionInterface] = []
        now = time.monotonic()
        sweep = now - self._swept_at >= SWEEP_EVERY
        if sweep:
            self._swept_at = now
        kept: list[AsyncConnectionInterface] = []
        for pooled in self._connections:
            if pooled.is_closed():
                continue
            if sweep and pooled.is_idle() and pooled.has_expired():
                closing.append(pooled)
                continue
            kept.append(pooled)
        idle = [pooled for pooled in kept if pooled.is_idle()]
        if (surplus := len(idle) - self._max_keepalive_connections) > 0:
            evicted = set(idle[:surplus])  # the oldest first, as httpcore does
            closing += evicted
            kept = [pooled for pooled in kept if pooled not in evicted]
        self._connections = kept

        assigned: set[AsyncConnectionInterface] = set()  # idle until their request starts
        for pool_request in [request for request in self._requests if request.is_queued()]:
            origin = pool_request.request.url.origin
            connection = self._reusable(origin, closing)
            if connection is None and len(self._connections) >= self._max_connections:
                # Full: make room by closing an idle connection (to another origin), if any,
                # but never one just given a request (encode/httpcore#1110).
                spare = next((c for c in self._connections
                              if c.is_idle() and c not in assigned), None)
                if spare is None:
                    continue  # the request stays queued until a connection is released
                self._connections.remove(spare)
                closing.append(spare)
            if connection is None:
                connection = self.create_connection(origin)
                self._connections.append(connection)
            pool_request.assign_to_connection(connection)
            assigned.add(connection)
        return closing

    def _reusable(self, origin: httpcore.Origin,
                  closing: list[AsyncConnectionInterface]) -> AsyncConnectionInterface | None:
        """The first connection that can take a request to `origin` now; an idle one is polled
        first (the server may have closed it, or its keep-alive run out) and closed if so."""
        for connection in list(self._connections):
            if not (connection.can_handle_request(origin) and connection.is_available()):
                continue
            if connection.is_idle() and connection.has_expired():
                self._connections.remove(connection)
                closing.append(connection)
                continue
            return connection
        return None


class Transport(httpx.AsyncHTTPTransport):
    """httpx's transport over `Pool` on asyncio's own sockets (`fallbacks.network`), with
    httpx's own TLS context and limits; over httpx's stock pool when the fence does not
    hold."""

    def __init__(self, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        if not POOL.holds():
            return
        self._pool = Pool(ssl_context=self._pool._ssl_context,
                          max_connections=limits.max_connections,
                          max_keepalive_connections=limits.max_keepalive_connections,
                          keepalive_expiry=limits.keepalive_expiry,
                          network_backend=network.Backend())
