"""Remembering engine failures across requests and processes: one circuit breaker per engine.

closed → open after `DIHYA_BREAKER_FAILURES` consecutive failures → after
`DIHYA_BREAKER_COOLDOWN` seconds one request (one, across all processes: a conditional UPDATE
claims it) probes the engine → closed on success, open again on failure. A provider quota or
rate limit puts the engine in a cooldown until its reset (same mechanism, reason `quota`).
Admins may force a breaker open (it then stays open) or closed (`force`).

The shared truth is a `BreakerState` row per engine. The runner's questions (`skip_reason`,
`record`) are answered from this process's memory only — the runner calls them from the event
loop and must never wait on the database. Memory is reloaded at most every
`DIHYA_BREAKER_REFRESH` seconds and events are written, both from synchronous code around the
run (`prepare` before it, `flush` after it, called by the pipeline's breaker gate), so no query
runs inside the event loop and a healthy route costs no write at all. Another process learns
of an opened breaker within the refresh interval; this process knows at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.utils import timezone

from fallbacks import signals
from fallbacks.errors import ProviderError
from fallbacks.policy import COOLDOWN
from fallbacks.spec import EngineSpec

if TYPE_CHECKING:
    from fallbacks.spec import RouteSpec

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
FAILURES, QUOTA, FORCED = "failures", "quota", "forced"


def threshold() -> int:
    return settings.DIHYA_BREAKER_FAILURES


def cooldown() -> float:
    return settings.DIHYA_BREAKER_COOLDOWN


@dataclass(slots=True)
class View:
    """What this process believes about one engine's breaker."""

    state: str = CLOSED
    reason: str = ""
    failures: int = 0
    until: float = 0.0        # wall-clock end of the open period / quota cooldown
    probe: str = ""           # "claimed": this process may probe; "taken": a probe is in flight
    probe_expires: float = 0.0
    dirty: bool = False       # events not yet written: a reload must not undo them


@dataclass(slots=True)
class Event:
    engine_id: int
    kind: str                 # failure | success | quota | probe_ok | probe_failed | release
    error: str = ""
    until: float = 0.0
    engine_name: str = ""


@dataclass
class Board:
    """The process's breaker memory, shared by every request of the process (thread-safe)."""

    views: dict[int, View] = field(default_factory=dict)
    pending: list[Event] = field(default_factory=list)
    claims: dict[Any, list[int]] = field(default_factory=dict)
    loaded_at: float = -1e9
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the runner's questions: memory only --------------------------------------------------
    def skip_reason(self, engine: EngineSpec) -> str | None:
        with self.lock:
            v = self.views.get(engine.id)
            if v is None or v.state == CLOSED:
                return None
            now = time.time()
            if v.reason == QUOTA and v.state == OPEN and now >= v.until:
                return None  # a rate-limit window ends by itself; no probe needed
            if v.probe == "claimed" and now < v.probe_expires:
                v.probe = "taken"
                return None
            return "quota_cooldown" if v.reason == QUOTA else "circuit_open"

    def available(self, engine: EngineSpec) -> bool:
        """Whether `skip_reason` would let the engine through now, without claiming anything:
        what a routing strategy asks to leave open engines out of its draw."""
        with self.lock:
            v = self.views.get(engine.id)
            if v is None or v.state == CLOSED:
                return True
            now = time.time()
            return ((v.reason == QUOTA and v.state == OPEN and now >= v.until)
                    or (v.probe == "claimed" and now < v.probe_expires))

    def back_at(self, engine: EngineSpec) -> float | None:
        """When the engine's breaker lets a call (or its probe) through again, wall clock;
        None if it is closed or forced open (no time is known)."""
        with self.lock:
            v = self.views.get(engine.id)
            if v is None or v.state == CLOSED or v.reason == FORCED or not v.until:
                return None
            return v.until

    def record(self, engine: EngineSpec, error: ProviderError | None) -> None:
        with self.lock:
            v = self.views.setdefault(engine.id, View())
            now = time.time()
            if error is None:
                if v.probe == "taken" or (v.state == OPEN and v.reason == QUOTA):
                    self._event(v, Event(engine.id, "probe_ok" if v.probe else "success"))
                    v.state, v.reason, v.probe = CLOSED, "", ""
                elif v.failures:
                    self._event(v, Event(engine.id, "success"))
                v.failures = 0
                return
            text = f"{error.failure}: {error.detail}"[:500]
            if error.failure in COOLDOWN:
                wait = error.retry_after if error.retry_after is not None else (
                    settings.DIHYA_QUOTA_COOLDOWN)
                v.state, v.reason, v.until, v.probe = OPEN, QUOTA, now + wait, ""
                self._event(v, Event(engine.id, "quota", text, v.until, engine.name))
            elif v.probe == "taken":
                v.state, v.until, v.probe = OPEN, now + cooldown(), ""
                self._event(v, Event(engine.id, "probe_failed", text))
            elif v.state == CLOSED:
                v.failures += 1
                if v.failures >= threshold():
                    v.state, v.reason, v.until = OPEN, FAILURES, now + cooldown()
                self._event(v, Event(engine.id, "failure", text))

    def _event(self, view: View, event: Event) -> None:
        view.dirty = True
        self.pending.append(event)

    # --- synchronous side: reads and writes of the shared rows --------------------------------
    def refresh(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.loaded_at < refresh_interval():
            return
        from fallbacks.models import BreakerState

        rows = BreakerState.objects.values_list("engine_id", "state", "reason", "failures",
                                                "until", "probe_until")
        loaded = {eid: View(state, reason, failures, until.timestamp() if until else 0.0,
                            probe_expires=probe.timestamp() if probe else 0.0)
                  for eid, state, reason, failures, until, probe in rows}
        now = time.time()
        with self.lock:
            for eid, old in self.views.items():
                if old.dirty:
                    loaded[eid] = old
                elif (old.probe and eid in loaded and now < old.probe_expires
                      and loaded[eid].state == HALF_OPEN):
                    # Our claim, still leased and still what the row says: keep it. An expired
                    # lease, or a row another process closed (or opened again), ends it.
                    loaded[eid].state = OPEN
                    loaded[eid].probe, loaded[eid].probe_expires = old.probe, old.probe_expires
            self.views = loaded
            self.loaded_at = time.monotonic()

    def prepare(self, engines: Iterable[EngineSpec], key: Any) -> None:
        """Before a run: reload if stale, and claim the probe of engines whose time has come."""
        self.refresh()
        from fallbacks.models import BreakerState

        now = time.time()
        for engine in engines:
            v = self.views.get(engine.id)
            if v is None or v.state == CLOSED or v.reason not in (FAILURES, "") or v.probe:
                continue
            if now < v.until or (v.state == HALF_OPEN and now < v.probe_expires):
                continue  # not yet, or another process's probe is still in flight
            at = timezone.now()
            lease = at + dt.timedelta(seconds=min(engine.total_timeout, 60.0) + 5.0)
            claimed = BreakerState.objects.filter(
                Q(state=OPEN, until__lte=at) | Q(state=HALF_OPEN, probe_until__lt=at),
                engine_id=engine.id).exclude(reason=FORCED).update(
                state=HALF_OPEN, probe_until=lease)
            with self.lock:
                if claimed:
                    v.probe, v.probe_expires = "claimed", lease.timestamp()
                    self.claims.setdefault(key, []).append(engine.id)
                else:  # another process probes it: look again in a second at the earliest
                    v.state, v.probe_expires = HALF_OPEN, max(v.probe_expires, now + 1.0)

    def flush(self, key: Any = None) -> None:
        """After a run, however it ended: write this process's events, release the probes it
        claimed and did not report on (unused, or cut short: the client went away), reload."""
        with self.lock:
            for eid in self.claims.pop(key, []):
                v = self.views.get(eid)
                if v is not None and v.probe in ("claimed", "taken"):
                    v.probe = ""
                    self._event(v, Event(eid, "release"))
            events, self.pending = self.pending, []
            for v in self.views.values():
                v.dirty = False
        if events:
            try:
                with transaction.atomic():  # a savepoint inside the pipeline's transaction
                    write(events)
            except DatabaseError:
                # The breaker is best effort: losing its events must not fail a generation.
                log.exception("could not write %d breaker events", len(events))
            self.loaded_at = -1e9  # read back what every process agreed on
        self.refresh()

    def forget(self) -> None:
        with self.lock:
            self.views.clear()
            self.pending.clear()
            self.claims.clear()
            self.loaded_at = -1e9


def refresh_interval() -> float:
    return settings.DIHYA_BREAKER_REFRESH


def write(events: list[Event]) -> None:
    """Apply events to the shared rows, each as a conditional UPDATE (no read-modify-write)."""
    from fallbacks.models import BreakerState

    # Rows are locked in engine order, whatever the routes' orders: no deadlock between two
    # processes writing the same engines (a stable sort keeps each engine's events in order).
    events = sorted(events, key=lambda e: e.engine_id)
    ids = sorted({e.engine_id for e in events})
    BreakerState.objects.bulk_create([BreakerState(engine_id=i) for i in ids],
                                     ignore_conflicts=True)
    now = timezone.now()
    rows = BreakerState.objects.exclude(reason=FORCED, state=OPEN)
    for e in events:
        mine = rows.filter(engine_id=e.engine_id)
        if e.kind == "failure":
            mine.filter(state=CLOSED).update(failures=F("failures") + 1, last_error=e.error,
                                             last_failure=now)
            mine.filter(state=CLOSED, failures__gte=threshold()).update(
                state=OPEN, reason=FAILURES, since=now, until=now + seconds(cooldown()))
        elif e.kind == "success":
            mine.filter(Q(failures__gt=0) | Q(reason=QUOTA)).filter(
                Q(state=CLOSED) | Q(reason=QUOTA)).update(
                state=CLOSED, reason="", failures=0, until=None, probe_until=None)
        elif e.kind == "probe_ok":
            mine.filter(state=HALF_OPEN).update(state=CLOSED, reason="", failures=0, since=now,
                                                until=None, probe_until=None)
        elif e.kind == "probe_failed":
            mine.filter(state=HALF_OPEN).update(state=OPEN, until=now + seconds(cooldown()),
                                                probe_until=None, last_error=e.error,
                                                last_failure=now)
        elif e.kind == "release":
            mine.filter(state=HALF_OPEN).update(state=OPEN, probe_until=None)
        elif e.kind == "quota":
            until = dt.datetime.fromtimestamp(e.until, tz=dt.UTC)
            mine.update(state=OPEN, reason=QUOTA, since=now, until=until, probe_until=None,
                        last_error=e.error, last_failure=now)
            transaction.on_commit(partial(quota_alert, e.engine_name, until, e.error))
    log.info("breaker events written: %s", ", ".join(f"{e.engine_id}:{e.kind}" for e in events))


def seconds(n: float) -> dt.timedelta:
    return dt.timedelta(seconds=n)


def quota_alert(engine_name: str, until: dt.datetime, detail: str = "") -> None:
    """Announce "engine X out of quota until T" (the quota app alerts), after the commit."""
    log.warning("engine %s out of quota until %s", engine_name, until.isoformat())
    try:
        signals.engine_out_of_quota.send(sender=Board, engine_name=engine_name, until=until,
                                         detail=detail)
    except Exception:
        log.exception("quota alert for engine %s failed", engine_name)


_board = Board()


def health() -> Board:
    """The process's breaker, as the runner's Health."""
    return _board


def prepare(route: RouteSpec, key: Any = None) -> None:
    _board.prepare(route.engines, key)


def flush(key: Any = None) -> None:
    _board.flush(key)
