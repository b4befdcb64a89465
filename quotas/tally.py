"""The quota tally: the counters of open windows kept in Redis, checked and charged by one
atomic script per call, when Redis is configured (`DIHYA_QUOTA_TALLY`, on with `REDIS_URL`).

Why: on PostgreSQL every reservation was a row-locked UPDATE per limit, held until the
admission transaction committed, so concurrent calls of one client queued on the same rows
(docs/benchmarks.md, issue 28). One Lua script checks every hard ceiling of a call and
charges all of its limits, or none, in one round trip; Redis runs scripts one at a time, so
N concurrent calls against a limit of L still admit exactly min(N, L), across any number of
processes.

The database stays the truth. A tallied reservation's row is written in the admission
transaction as before, its counters are not: they move once, by the real usage, when it is
settled (`quotas.ledger`), in the batched recorder's transaction. So at any instant a window's
true usage is its database counter plus the amounts still held by open tallied reservations
(`quotas.ledger.truth`), and a key Redis lacks (a new window, or Redis restarted: it keeps
nothing on disk here) is seeded from exactly that before the script runs again. A key lives
until its window ends plus `GRACE`, so late settlements still find it.

What this module must never do: decide limits (`quotas.plans`), or write the database.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError

PREFIX = "dihya:quota:"
GRACE = 3600  # seconds a key outlives its window, for settlements that end late

# KEYS: the counters. ARGV: k amounts, then k ceilings (-1: soft, never refuses).
# Returns {0, used_1..used_k} when charged, {1, i} when key i is missing (seed, run again),
# {2, i, used_i} when hard limit i would be passed (nothing charged).
RESERVE = """
local k = #KEYS
local used = {}
for i = 1, k do
  local v = redis.call('GET', KEYS[i])
  if not v then return {1, i} end
  used[i] = tonumber(v)
end
for i = 1, k do
  local ceiling = tonumber(ARGV[k + i])
  if ceiling >= 0 and used[i] + tonumber(ARGV[i]) > ceiling then return {2, i, used[i]} end
end
local out = {0}
for i = 1, k do out[i + 1] = redis.call('INCRBY', KEYS[i], ARGV[i]) end
return out
"""

# KEYS: counters, ARGV: their deltas. Moves only the keys that exist (a missing one is seeded
# from the database, which already holds the change); returns each one's value, -1 if missing.
ADJUST = """
local out = {}
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    out[i] = redis.call('INCRBY', KEYS[i], ARGV[i])
  else
    out[i] = -1
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class Key:
    """One counter: a subject's usage of a metric in the window of `period` starting at
    `start` (the database's `Counter` row of the same four fields)."""

    subject: str
    metric: str
    period: str
    start: dt.datetime

    @property
    def order(self) -> tuple[str, str, str]:
        return (self.subject, self.metric, self.period)

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.subject}|{self.metric}|{self.period}|{self.start.isoformat()}"


class Lost(RedisConnectionError):
    """The tally could not be kept (keys vanish as they are seeded): treated as Redis being
    unavailable, a 503, never as a reason to admit unchecked."""


@dataclass(frozen=True, slots=True)
class Missing:
    key: Key


@dataclass(frozen=True, slots=True)
class Refused:
    index: int  # which of the keys
    used: int


def enabled() -> bool:
    return bool(settings.DIHYA_QUOTA_TALLY)


@cache
def _client(url: str) -> Any:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    return client, client.register_script(RESERVE), client.register_script(ADJUST)


def client() -> tuple[Any, Any, Any]:
    return _client(settings.REDIS_URL)


def reserve(keys: Sequence[Key], amounts: Sequence[int],
            ceilings: Sequence[int | None]) -> list[int] | Missing | Refused:
    """Charge every key its amount if no ceiling would be passed; else charge nothing."""
    _, script, _ = client()
    args = [*amounts, *(-1 if c is None else c for c in ceilings)]
    answer = [int(x) for x in script(keys=[k.name for k in keys], args=args)]
    if answer[0] == 1:
        return Missing(keys[answer[1] - 1])
    if answer[0] == 2:
        return Refused(answer[1] - 1, answer[2])
    return answer[1:]


def seed(key: Key, used: int, ends: dt.datetime) -> None:
    """Set a missing key to the usage the database knows, unless another process did first."""
    redis_client, _, _ = client()
    ttl = max(0, int(ends.timestamp() - time.time())) + GRACE
    redis_client.set(key.name, used, nx=True, ex=ttl)


def adjust(deltas: dict[Key, int]) -> dict[Key, int]:
    """Move existing keys by their deltas; the new values of those that exist."""
    if not deltas:
        return {}
    _, _, script = client()
    keys = sorted(deltas, key=lambda k: k.name)
    values = script(keys=[k.name for k in keys], args=[deltas[k] for k in keys])
    return {k: int(v) for k, v in zip(keys, values, strict=True) if int(v) >= 0}


def read(keys: Iterable[Key]) -> dict[Key, int]:
    """The tallied usage of these keys, for those Redis has."""
    keys = list(keys)
    if not keys:
        return {}
    redis_client, _, _ = client()
    values = redis_client.mget([k.name for k in keys])
    return {k: int(v) for k, v in zip(keys, values, strict=True) if v is not None}


def kept(subjects: Iterable[str]) -> dict[Key, int]:
    """Every key Redis keeps for these subjects, with its value (a person's export)."""
    redis_client, _, _ = client()
    names = [name for s in subjects
             for name in redis_client.scan_iter(match=f"{PREFIX}{_glob_escaped(s)}|*",
                                                count=1000)]
    if not names:
        return {}
    out = {}
    for name, value in zip(names, redis_client.mget(names), strict=True):
        subject, metric, period, start = name.decode().removeprefix(PREFIX).split("|")
        if value is not None:
            out[Key(subject, metric, period, dt.datetime.fromisoformat(start))] = int(value)
    return out


def forget(subjects: Iterable[str]) -> int:
    """Drop the keys of these subjects (erasure). How many were dropped."""
    return _drop([f"{PREFIX}{_glob_escaped(s)}|*" for s in subjects])


def forget_all() -> int:
    """Drop every key (a rebuild): each is seeded again from the database on its next use."""
    return _drop([f"{PREFIX}*"])


def _drop(patterns: list[str]) -> int:
    redis_client, _, _ = client()
    dropped = 0
    for pattern in patterns:
        names = list(redis_client.scan_iter(match=pattern, count=1000))
        for i in range(0, len(names), 1000):
            dropped += redis_client.delete(*names[i:i + 1000])
    return dropped


def _glob_escaped(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
