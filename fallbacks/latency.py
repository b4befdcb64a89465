"""How fast each engine answers: EWMAs shared across processes, for `lowest_latency` and the
dashboard.

Two averages per engine: time to first token (streams) and latency per output token
(non-streamed answers, so a long answer does not look like a slow engine). The runner
`observe`s each success into process memory, at no cost; the strategy reads memory only.
Like the breaker (`fallbacks.breaker`), the shared store is read at most every
`DIHYA_LATENCY_REFRESH` seconds and written in batches, both from synchronous code around
the run (the pipeline's routing gate), never from the event loop. The store is Redis when
`REDIS_URL` is set (one small Lua script per average, so concurrent writers never lose each
other's samples), the database otherwise (one conditional UPDATE per average and flush,
after the recording transaction has committed, in a transaction of its own).
Losing samples is harmless; the store is best effort and must never fail a generation.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Case, F, Value, When

from fallbacks.strategies.base import FIRST_TOKEN as FIRST_TOKEN
from fallbacks.strategies.base import PER_TOKEN as PER_TOKEN

log = logging.getLogger(__name__)
KINDS = (FIRST_TOKEN, PER_TOKEN)
KEY = "dihya:latency:{}"


def alpha() -> float:
    return settings.DIHYA_LATENCY_ALPHA


@dataclass(slots=True)
class Average:
    value: float = 0.0
    samples: int = 0

    def add(self, x: float) -> None:
        self.value = x if not self.samples else self.value + alpha() * (x - self.value)
        self.samples += 1


@dataclass
class Board:
    """The process's view of every engine's averages, and the samples not yet shared."""

    views: dict[tuple[int, str], Average] = field(default_factory=dict)
    pending: dict[tuple[int, str], list[float]] = field(default_factory=dict)
    loaded_at: float = -1e9
    written_at: float = -1e9
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the runner's and the strategy's side: memory only ------------------------------------
    def observe(self, engine_id: int, kind: str, ms: float) -> None:
        with self.lock:
            self.views.setdefault((engine_id, kind), Average()).add(ms)
            self.pending.setdefault((engine_id, kind), []).append(ms)

    def average(self, engine_id: int, kind: str) -> Average | None:
        return self.views.get((engine_id, kind))

    # --- synchronous side ----------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.loaded_at < interval():
            return
        try:
            loaded = store().read()
        except Exception:
            log.exception("could not read engine latencies")
            loaded = {}
        with self.lock:
            for key, values in self.pending.items():  # not yet written: keep them counted
                avg = loaded.setdefault(key, Average())
                for x in values:
                    avg.add(x)
            self.views = loaded or self.views
            self.loaded_at = time.monotonic()

    def flush(self, force: bool = False) -> None:
        """Write the samples gathered since the last write, at most every refresh interval."""
        if not self.pending or (not force and time.monotonic() - self.written_at < interval()):
            return
        with self.lock:
            pending, self.pending = self.pending, {}
            self.written_at = time.monotonic()
        try:
            store().write(pending)
        except Exception:
            log.exception("could not write %d engine latency averages", len(pending))
        self.loaded_at = -1e9

    def forget(self) -> None:
        with self.lock:
            self.views.clear()
            self.pending.clear()
            self.loaded_at = self.written_at = -1e9


def interval() -> float:
    return settings.DIHYA_LATENCY_REFRESH


def folded(samples: list[float]) -> tuple[float, float]:
    """(factor, term) such that folding `samples` into an average v gives v * factor + term."""
    a, factor, term = alpha(), 1.0, 0.0
    for x in samples:
        factor *= 1 - a
        term = term * (1 - a) + a * x
    return factor, term


class DatabaseStore:
    def read(self) -> dict[tuple[int, str], Average]:
        from fallbacks.models import EngineLatency

        out: dict[tuple[int, str], Average] = {}
        for row in EngineLatency.objects.all():
            for kind in KINDS:
                samples = getattr(row, kind.replace("_ms", "_samples"))
                if samples:
                    out[(row.engine_id, kind)] = Average(getattr(row, kind), samples)
        return out

    def write(self, pending: dict[tuple[int, str], list[float]]) -> None:
        # After the recording transaction, in a transaction of its own: an engine deleted
        # meanwhile (its samples refer to nothing) fails this write, never the generation's.
        transaction.on_commit(partial(self._write, pending))

    def _write(self, pending: dict[tuple[int, str], list[float]]) -> None:
        from fallbacks.models import Engine, EngineLatency

        try:
            with transaction.atomic():
                ids = sorted(Engine.objects.filter(pk__in={eid for eid, _ in pending})
                             .values_list("pk", flat=True))
                EngineLatency.objects.bulk_create([EngineLatency(engine_id=i) for i in ids],
                                                  ignore_conflicts=True)
                for (eid, kind), samples in sorted(pending.items()):
                    if eid not in ids:
                        continue
                    count = kind.replace("_ms", "_samples")
                    factor, term = folded(samples)
                    first = Average()
                    for x in samples:
                        first.add(x)
                    EngineLatency.objects.filter(engine_id=eid).update(**{
                        kind: Case(When(**{count: 0}, then=Value(first.value)),
                                   default=F(kind) * factor + term),
                        count: F(count) + len(samples)})
        except DatabaseError:
            log.exception("could not write engine latencies")


LUA = """
local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
local n = tonumber(redis.call('HGET', KEYS[1], ARGV[2])) or 0
local a = tonumber(ARGV[3])
for i = 4, #ARGV do
  local x = tonumber(ARGV[i])
  if n == 0 or v == nil then v = x else v = v + a * (x - v) end
  n = n + 1
end
redis.call('HSET', KEYS[1], ARGV[1], v, ARGV[2], n)
return n
"""


class RedisStore:
    def __init__(self, url: str) -> None:
        import redis

        self.client: Any = redis.Redis.from_url(url, socket_timeout=1.0)
        self.script = self.client.register_script(LUA)

    def read(self) -> dict[tuple[int, str], Average]:
        from fallbacks.models import Engine

        ids = list(Engine.objects.values_list("pk", flat=True))
        pipe = self.client.pipeline(transaction=False)
        for eid in ids:
            pipe.hgetall(KEY.format(eid))
        out: dict[tuple[int, str], Average] = {}
        for eid, row in zip(ids, pipe.execute(), strict=True):
            for kind in KINDS:
                n = int(row.get((kind + "_n").encode(), 0))
                if n:
                    out[(eid, kind)] = Average(float(row[kind.encode()]), n)
        return out

    def write(self, pending: dict[tuple[int, str], list[float]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for (eid, kind), samples in pending.items():
            self.script(keys=[KEY.format(eid)], args=[kind, kind + "_n", alpha(), *samples],
                        client=pipe)
        pipe.execute()


@cache
def store() -> DatabaseStore | RedisStore:
    return RedisStore(settings.REDIS_URL) if settings.REDIS_URL else DatabaseStore()


_board = Board()


def board() -> Board:
    return _board


def observe(engine_id: int, kind: str, ms: float) -> None:
    _board.observe(engine_id, kind, ms)
