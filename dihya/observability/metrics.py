"""Prometheus metrics: the counters and histograms every process writes as generations end.

prometheus_client runs in multiprocess mode (settings.DIHYA_METRICS_DIR): each web process
and each django-q2 worker writes its own samples to files in one directory, and GET /metrics
(`dihya.observability.views`) adds them up. What is a state rather than an event (breakers,
jobs waiting, quota saturation, engine slots in use) is not kept here: `state.StateCollector`
reads it from the database at scrape time, so every process agrees and none keeps a copy.

Labels carry names of configured objects only — routes, engines, API clients, plans — and the
fixed vocabularies of outcomes, statuses and sources. They must never carry a person (an end
user, a pseudonym), a prompt, a key or anything a caller typed freely. `name()` bounds each
label: at most DIHYA_METRICS_MAX_LABEL_VALUES distinct values per label per process; beyond
that, new values are counted as "other", so a misconfiguration cannot blow up the series.

A generation's samples are not written on the request's path: they are appended to this
process's queue (a deque append each) and a daemon thread writes them to the multiprocess
files every FLUSH_SECONDS, adding up a counter's increments into one write (a write takes a
lock, a getpid and an mmap update: about 5-10 µs each, 14 per generation). /metrics flushes its
own process first; other processes' last FLUSH_SECONDS may show at the next scrape. A
django-q2 worker flushes after each task (its process may be recycled and end without running
exit handlers); every process flushes at exit; a forked child starts with an empty queue.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from django.conf import settings
from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from dihya.generation.admission import Admission
    from fallbacks.runner import AttemptRecord
    from fallbacks.spec import Usage

# LLM calls: from a cached 50 ms answer to a two-minute job.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
OTHER = "other"
NONE = "none"
# Attempts that never reached the engine: no latency to observe.
NOT_CALLED = frozenset({"circuit_open", "quota_cooldown", "no_free_slot", "not_configured"})

GENERATIONS = Counter("dihya_generations", "Generations ended, by how they ended.",
                      ["route", "client", "source", "status"])
ATTEMPTS = Counter("dihya_attempts", "Engine attempts, by engine and outcome.",
                   ["engine", "outcome"])
FALLBACKS = Counter("dihya_fallbacks", "Generations that moved past their first engine.",
                    ["route"])
DURATION = Histogram("dihya_generation_duration_seconds",
                     "From the start of a generation to its end (a stream's last token).",
                     ["route"], buckets=BUCKETS)
TTFT = Histogram("dihya_time_to_first_token_seconds",
                 "From the start of a generation to the first token of the engine that "
                 "answered (fallbacks included; a non-streamed answer's tokens come together).",
                 ["route", "engine"], buckets=BUCKETS)
ENGINE_LATENCY = Histogram("dihya_engine_latency_seconds",
                           "One attempt's time at the engine (to the first token for a stream).",
                           ["engine"], buckets=BUCKETS)
TOKENS = Counter("dihya_tokens", "Tokens the engines reported.", ["route", "engine", "kind"])
COST = Counter("dihya_cost", "Cost of answered generations, in the unit of plans' cost "
               "limits (engine prices per million tokens).", ["route", "client"])
QUOTA_REFUSALS = Counter("dihya_quota_refusals", "Calls refused by a quota.", ["plan"])
CONSENT_REFUSALS = Counter("dihya_consent_refusals", "Calls refused for want of consent.",
                           ["client"])
ALERTS = Counter("dihya_alerts", "Quota alerts raised.", ["kind"])
OVERHEAD = Histogram("dihya_overhead_seconds", "Time an API call spent in Dihya itself, engine "
                     "time excluded (to the response headers).", buckets=OVERHEAD_BUCKETS)

FLUSH_SECONDS = 0.5
_seen: dict[str, set[str]] = {}
_lock = threading.Lock()
_pending: deque[tuple[Counter | Histogram, tuple[str, ...], float]] = deque()
_flusher_pid = 0


def add(metric: Counter | Histogram, labels: tuple[str, ...], amount: float) -> None:
    """Count (a Counter) or observe (a Histogram) `amount`, at the next flush."""
    _pending.append((metric, labels, amount))


def flush() -> None:
    """Write what is queued to the multiprocess files, a counter's increments added up."""
    counts: dict[tuple[Counter, tuple[str, ...]], float] = {}
    while True:
        try:
            metric, labels, amount = _pending.popleft()
        except IndexError:
            break
        if isinstance(metric, Histogram):
            (metric.labels(*labels) if labels else metric).observe(amount)
        else:
            counts[metric, labels] = counts.get((metric, labels), 0.0) + amount
    for (counter, labels), amount in counts.items():
        (counter.labels(*labels) if labels else counter).inc(amount)


def _flushing() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        flush()


def started() -> None:
    """Start this process's flusher (once per process: a forked worker starts its own)."""
    global _flusher_pid
    if _flusher_pid == os.getpid():
        return
    with _lock:
        if _flusher_pid != os.getpid():
            _flusher_pid = os.getpid()
            threading.Thread(target=_flushing, name="dihya-metrics", daemon=True).start()


def task_done(**_: Any) -> None:
    """django_q.signals.post_execute_in_worker's receiver (connected in apps.py)."""
    flush()


atexit.register(flush)
os.register_at_fork(after_in_child=_pending.clear)  # the parent writes its own samples


def name(label: str, value: str | None) -> str:
    """A label value, bounded: empty → "none"; a new value past the cap → "other"."""
    if not value:
        return NONE
    seen = _seen.get(label)
    if seen is not None and value in seen:
        return value
    with _lock:
        seen = _seen.setdefault(label, set())
        if value in seen:
            return value
        if len(seen) >= settings.DIHYA_METRICS_MAX_LABEL_VALUES:
            return OTHER
        seen.add(value)
        return value


def generation_ended(admission: Admission, attempts: list[AttemptRecord],
                     usage: Usage | None, cost: int) -> None:
    """Count one generation that ended, its attempts, tokens and timings."""
    g = admission.generation
    route = name("route", g.route_name)
    client = name("client", admission.caller.client.name if admission.caller.client else "")
    started()
    add(GENERATIONS, (route, client, g.source, g.status), 1)
    positions = set()
    for a in attempts:
        engine = name("engine", a.engine)
        add(ATTEMPTS, (engine, a.outcome), 1)
        positions.add(a.position)
        if a.outcome not in NOT_CALLED:
            add(ENGINE_LATENCY, (engine,), a.latency_ms / 1000)
    if len(positions) > 1:
        add(FALLBACKS, (route,), 1)
    if g.started and g.finished:
        add(DURATION, (route,), (g.finished - g.started).total_seconds())
    answered = attempts[-1] if attempts and attempts[-1].outcome == "ok" else None
    if answered is not None and g.started:
        add(TTFT, (route, name("engine", answered.engine)),
            max(0.0, answered.ended - g.started.timestamp()))
    if usage is not None:
        engine = name("engine", g.engine_name)
        add(TOKENS, (route, engine, "prompt"), usage.prompt_tokens)
        add(TOKENS, (route, engine, "completion"), usage.completion_tokens)
        if cost:
            add(COST, (route, client), cost)


def refused(code: str, client: str, plan: str) -> None:
    started()
    if code == "quota_exceeded":
        add(QUOTA_REFUSALS, (name("plan", plan),), 1)
    elif code == "consent_required":
        add(CONSENT_REFUSALS, (name("client", client),), 1)


def alert_raised(alert: Any, **_: Any) -> None:
    """quotas.signals.alert_raised's receiver (connected in apps.py)."""
    started()
    add(ALERTS, (name("alert_kind", str(alert.kind)),), 1)


def overhead(seconds: float) -> None:
    started()
    add(OVERHEAD, (), max(0.0, seconds))
