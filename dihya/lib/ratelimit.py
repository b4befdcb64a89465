"""A fixed-window counter in the cache: how often something may happen per key and window.

Shared by every process with Redis; per process with the embedded local-memory cache, which
still bounds each process. Used by the privacy pages (`dihya.privacy.ratelimit`) and the
consent gate's refusals (`dihya.generation.gates.consent`).
"""

from __future__ import annotations

import time

from django.core.cache import cache

WINDOW = 3600


def hit(key: str, limit: int, window: int = WINDOW) -> int:
    """Count one request under `key` in the current window; seconds to wait when over `limit`
    (0 when allowed). `add` then `incr` are both atomic in Django's caches."""
    now = int(time.time())
    start = now - now % window
    slot = f"ratelimit:{key}:{start}"
    cache.add(slot, 0, timeout=window + 60)
    try:
        count = cache.incr(slot)
    except ValueError:  # evicted between add and incr: count afresh
        cache.set(slot, 1, timeout=window + 60)
        count = 1
    return 0 if count <= limit else start + window - now
