"""The process's outbound HTTP client for engines.

One `httpx.AsyncClient` per event loop, reused for every call so connections are pooled
(a new client per call costs a TCP and often a TLS handshake), over a pool whose
bookkeeping stays flat however many connections it holds (`fallbacks.pool`). Timeouts are
always set per request by the provider; the client's own default is only a backstop.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx
from django.conf import settings

from fallbacks.pool import Transport

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def limits() -> httpx.Limits:
    """One connection per call in flight, all engines together: DIHYA_ENGINE_CONNECTIONS is
    the most calls and streams a process can have at engines at once; one more waits for a
    free connection up to its engine's connect timeout, then fails as a timeout."""
    return httpx.Limits(max_connections=settings.DIHYA_ENGINE_CONNECTIONS,
                        max_keepalive_connections=50, keepalive_expiry=30)


def client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    existing = _clients.get(loop)
    if existing is None or existing.is_closed:
        existing = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=5.0),
            transport=Transport(limits()),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": "dihya-gateway"},
        )
        _clients[loop] = existing
    return existing
