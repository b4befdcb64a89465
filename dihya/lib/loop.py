"""An event loop that lives as long as the process, for synchronous callers (workers, commands).

`asyncio.run()` per job would open a new loop each time, and with it a new HTTP connection
pool: every job would pay a fresh TCP (and TLS) handshake. One loop in a daemon thread keeps
`fallbacks.http`'s pooled client alive between jobs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="dihya-loop", daemon=True).start()
        return _loop


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run `coro` on the process loop and wait for its result from this (synchronous) thread."""
    return asyncio.run_coroutine_threadsafe(coro, _get_loop()).result(timeout)
