"""The quota ledger: reserve before a call, settle or release after it. Exact under concurrency.

Two ways to keep the counters of open windows, one meaning. Without Redis, every change to a
counter is one conditional UPDATE (`used = used + n WHERE used + n <= limit`) on a row that
exists beforehand, never a read-modify-write (`quotas.rows`): on PostgreSQL a concurrent UPDATE
of the same row waits for the first to commit and re-checks its WHERE; on SQLite writers take
turns (BEGIN IMMEDIATE). With the quota tally (`quotas.tally`, on with Redis), one atomic
script checks and charges every limit of a call in Redis, and the database's counters take a
call's real usage when it is settled: a window's usage is then its counter plus what open
tallied reservations hold (`truth`), which is what seeds a key Redis lacks. Either way, with
N concurrent calls against a limit of L exactly min(N, L) get through, across any number of
processes; counters are moved in one fixed order (sorted keys), so no two transactions wait
on each other in a cycle. Each held amount says which way it was reserved (`tallied`), so
switching the tally on or off while calls are open settles each of them exactly.

A reservation is recorded per generation id (unique), which makes the verbs idempotent:
reserving the same generation twice charges once, settling or releasing twice adjusts once.
Settling adjusts the counters of the windows the call was reserved in, even if a window has
rolled over since; the call is counted where it was admitted. Amounts are given per thing a
call uses (`requests`, `tokens`, `cost`); a bound on a batch-only metric (`batch_tokens`) is
charged the same amount as its plain one, on its own counter (`Bound.counts`).

This module must never decide who gets which limits (`quotas.plans` does) nor talk to clients.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError

from quotas import alerts, rows, tally, windows
from quotas.bounds import Bound, Standing, batch_only, counted
from quotas.models import Counter, Reservation

log = logging.getLogger(__name__)


class QuotaExceeded(Exception):
    def __init__(self, standing: Standing, asked: int, now: dt.datetime) -> None:
        self.standing = standing
        self.asked = asked
        self.retry_after = windows.seconds_until(standing.resets_at, now)
        b = standing.bound
        who = "client" if b.subject.startswith("client:") else "end user"
        what = f"{b.counts} of batch lines" if batch_only(b.metric) else b.metric
        super().__init__(
            f"Quota exceeded: {b.amount} {what} per {b.period} for this {who} "
            f"(plan {b.plan!r}); used {standing.used}/{b.amount}, this call needs {asked}. "
            f"The window resets at {standing.resets_at.isoformat()} "
            f"(in {self.retry_after} s).")


def reserve(generation_id: UUID, bounds: Sequence[Bound], amounts: dict[str, int], *,
            now: dt.datetime | None = None) -> list[Standing]:
    """Charge `amounts` (requests, tokens, cost) against every bound, or nothing: raise
    QuotaExceeded at the first exhausted hard limit, with every increment of this call rolled
    back. With the tally (`quotas.tally`), the charge is made in Redis at once and stands even
    if the caller's transaction rolls back: the caller gives it back with `unreserve`."""
    now = now or timezone.now()
    if not bounds:
        return []
    ordered = sorted(bounds, key=lambda b: b.order)
    spans = {b.order: windows.bounds(b.period, now) for b in ordered}
    if tally.enabled():
        standings = _charge_tally(ordered, spans, amounts, now)
        # One statement, no savepoint: a second reservation of the same call inserts nothing.
        if not rows.reserve(generation_id, [_held(s, amounts.get(s.bound.counts, 0), True)
                                            for s in standings]):
            _give_back(standings, amounts)  # already reserved (a re-delivered job)
            return status(bounds, now=now)
    else:
        try:
            with transaction.atomic():
                standings = _charge_counters(ordered, spans, amounts, now)
                Reservation.objects.create(generation_id=generation_id, held=[
                    _held(s, amounts.get(s.bound.counts, 0), False) for s in standings])
        except IntegrityError:
            # Already reserved (a re-delivered job): the savepoint undid this second charge.
            return status(bounds, now=now)
    for s in standings:
        alerts.check(s, amounts.get(s.bound.counts, 0))
    return standings


def unreserve(generation_id: UUID, standings: Sequence[Standing],
              amounts: dict[str, int]) -> None:
    """Give back a tallied charge whose reservation was never written (the admission's
    transaction rolled back). Without the tally, the rollback gave it back already; and if the
    generation holds a reservation after all (reserved before: `reserve` answered with its
    standing), that reservation holds the charge."""
    if (tally.enabled() and standings
            and not Reservation.objects.filter(generation_id=generation_id).exists()):
        _give_back(standings, amounts)


def _give_back(standings: Sequence[Standing], amounts: dict[str, int]) -> None:
    if standings:
        try:
            tally.adjust({_key(s.bound, s.window_start): -amounts.get(s.bound.counts, 0)
                          for s in standings})
        except RedisConnectionError:  # counted once too many: refuses early, never over-admits
            log.warning("quota tally charge not given back (Redis unavailable)")


def _charge_counters(ordered: list[Bound], spans: dict, amounts: dict[str, int],
                     now: dt.datetime) -> list[Standing]:
    standings = []
    for b in ordered:
        n = amounts.get(b.counts, 0)
        start = spans[b.order][0]
        ceiling = b.amount if b.hard else None
        used = rows.bump(b.subject, b.metric, b.period, start, n, ceiling)
        if used is None:  # the window's counter may not exist yet: create, retry once
            Counter.objects.bulk_create([Counter(subject=b.subject, metric=b.metric,
                                                 period=b.period, window_start=start)],
                                        ignore_conflicts=True)
            used = rows.bump(b.subject, b.metric, b.period, start, n, ceiling)
        if used is None:
            raise QuotaExceeded(_standing(b, spans, _counter(b, start).get().used), n, now)
        standings.append(_standing(b, spans, used))
    return standings


def _charge_tally(ordered: list[Bound], spans: dict, amounts: dict[str, int],
                  now: dt.datetime) -> list[Standing]:
    """One script charges every bound or none; a key Redis lacks is seeded from the database's
    truth first (at most once per key, unless Redis drops keys as fast as they are made)."""
    keys = [_key(b, spans[b.order][0]) for b in ordered]
    ns = [amounts.get(b.counts, 0) for b in ordered]
    ceilings = [b.amount if b.hard else None for b in ordered]
    for _ in range(len(keys) + 2):
        answer = tally.reserve(keys, ns, ceilings)
        if isinstance(answer, tally.Missing):
            tally.seed(answer.key, truth(answer.key), spans[answer.key.order][1])
            continue
        if isinstance(answer, tally.Refused):
            b = ordered[answer.index]
            raise QuotaExceeded(_standing(b, spans, answer.used), ns[answer.index], now)
        return [_standing(b, spans, used) for b, used in zip(ordered, answer, strict=True)]
    raise tally.Lost("quota tally keys vanished as they were seeded (is Redis evicting keys?)")


def truth(key: tally.Key) -> int:
    """A window's usage as the database knows it: its counter (settled calls, and calls
    reserved without the tally) plus what open tallied reservations hold on it."""
    used = (Counter.objects.filter(subject=key.subject, metric=key.metric, period=key.period,
                                   window_start=key.start)
            .values_list("used", flat=True).first() or 0)
    start = key.start.isoformat()
    # Reserved at or after the window's start (the partial index on open reservations).
    for held in Reservation.objects.filter(state=Reservation.State.RESERVED,
                                           created__gte=key.start).values_list("held",
                                                                               flat=True):
        used += sum(h["n"] for h in held if h.get("tallied") and h["window_start"] == start
                    and (h["subject"], h["metric"], h["period"]) == key.order)
    return used


def settle(generation_id: UUID, *, tokens: int | None,
           cost: int | Callable[[], int] = 0) -> bool:
    """Replace the reserved tokens (and cost) by the real usage. False if already done.
    `tokens=None` (the engine did not count) keeps the reserved estimate as the charge.

    Real usage above the estimate is counted even past a hard limit: it happened. Crossing an
    alert threshold that way alerts like a reservation would."""
    return bool(close_many([Closing(generation_id, tokens=tokens, cost=cost)]))


def release(generation_id: UUID) -> bool:
    """Give back everything a call reserved (it failed or was cancelled). False if already
    settled or released, or never reserved."""
    return bool(close_many([Closing(generation_id, release=True)]))


def charge_served(generation_id: UUID, *, tokens: int,
                  cost: int | Callable[[], int] = 0) -> bool:
    """Count a call whose reservation was released (its generation was given up on) but that
    was served after all: one request and its real usage, in the windows it was reserved in,
    past any limit (it happened). False unless the reservation was released and not yet
    charged; charging twice charges once."""
    with transaction.atomic(savepoint=False):
        held = rows.close([generation_id], Reservation.State.SETTLED,
                          was=Reservation.State.RELEASED).get(generation_id)
        if held is None:
            return False
        moves = _Moves()
        real = _real(held, {"requests": 1, "tokens": tokens}, cost)
        for h in held:  # what it held was given back: its counters hold nothing of it now
            moves.add(h, before=0, after=real.get(counted(h["metric"]), 0))
        moves.apply()
    return True


@dataclass(frozen=True, slots=True)
class Closing:
    """How one call's reservation ends, for `close_many`: settled to `tokens` (None: keep the
    estimate, as `settle`), or released (`release=True`)."""

    generation_id: UUID
    tokens: int | None = None
    cost: int | Callable[[], int] = 0
    release: bool = False


def close_many(closings: Sequence[Closing]) -> int:
    """Settle or release many calls' reservations at once, as `settle` and `release` would one
    by one: one UPDATE per kind of end claims the reservations still open (so each adjusts
    once), and the counters move by the sum of the calls' adjustments, one statement per
    counter row, in the same sorted order as `reserve` (no lock cycle with a reservation).
    Returns how many reservations it closed. Thresholds crossed by the sum alert as a single
    call's real usage would."""
    with transaction.atomic(savepoint=False):  # the caller's transaction, or one of its own
        return _close_all(closings)


def _close_all(closings: Sequence[Closing]) -> int:
    held = rows.close([c.generation_id for c in closings if not c.release],
                      Reservation.State.SETTLED)
    held.update(rows.close([c.generation_id for c in closings if c.release],
                           Reservation.State.RELEASED))
    moves = _Moves()
    for c in closings:
        what = held.get(c.generation_id)
        if what is None:
            continue
        real = {} if c.release else None if c.tokens is None else _real(
            what, {"tokens": c.tokens}, c.cost)
        for h in what:
            after = h["n"] if real is None else real.get(counted(h["metric"]),
                                                         0 if c.release else h["n"])
            moves.add(h, before=h["n"], after=after)
    moves.apply()
    return len(held)


def _real(held: list, real: dict[str, int], cost: int | Callable[[], int]) -> dict[str, int]:
    if any(counted(h["metric"]) == "cost" for h in held):
        real["cost"] = cost() if callable(cost) else cost
    return real


class _Moves:
    """How counters move when reservations close. A reservation made on the database's
    counters moves them by what changes (`after - before`); a tallied one (`quotas.tally`)
    was never on them, so they take its whole `after`, and Redis, which held `before`, takes
    the difference once the transaction commits. Alerts follow the counters that hold the
    whole usage: the database's for the former, Redis' for the latter."""

    #: Redis moves once the database has: a rollback must not leave it moved.
    after_commit = staticmethod(transaction.on_commit)

    def __init__(self) -> None:
        self.counters: dict[tuple[str, str, str, str], int] = {}
        self.tallied: dict[tuple[str, str, str, str], int] = {}
        self.alerting: dict[tuple[str, str, str, str], dict] = {}

    def add(self, h: dict, *, before: int, after: int) -> None:
        key = (h["subject"], h["metric"], h["period"], h["window_start"])
        if h.get("tallied"):
            if after:
                self.counters[key] = self.counters.get(key, 0) + after
            if after != before:
                self.tallied[key] = self.tallied.get(key, 0) + after - before
        elif after != before:
            self.counters[key] = self.counters.get(key, 0) + after - before
        if h["alerts"] and after > before:
            self.alerting[key] = h

    def apply(self) -> None:
        used = rows.add(self.counters)
        for key, delta in self.counters.items():
            if key not in self.tallied and key in self.alerting:
                self._alert(key, used[key], delta)
        if self.tallied and tally.enabled():  # switched off since: Redis is left alone
            self.after_commit(self._apply_tally)

    def _apply_tally(self) -> None:
        keys = {k: tally.Key(k[0], k[1], k[2], dt.datetime.fromisoformat(k[3]))
                for k in self.tallied}
        try:
            now = tally.adjust({keys[k]: delta for k, delta in self.tallied.items()})
        except RedisConnectionError:
            log.warning("quota tally not adjusted after settlement (Redis unavailable): it "
                        "counts %d windows wrong until they end or `manage.py "
                        "rebuild_quota_tally`", len(keys))
            return
        for key, delta in self.tallied.items():
            if delta > 0 and key in self.alerting and keys[key] in now:
                self._alert(key, now[keys[key]], delta)

    def _alert(self, key: tuple[str, str, str, str], used: int, delta: int) -> None:
        h = self.alerting[key]
        subject, metric, period, window_start = key
        start = dt.datetime.fromisoformat(window_start)
        bound = Bound(subject, metric, period, h["limit"], h["hard"], tuple(h["alerts"]),
                      h["plan"])
        alerts.check(Standing(bound, used, start, windows.bounds(period, start)[1]), delta)


def status(bounds: Iterable[Bound], *, now: dt.datetime | None = None) -> list[Standing]:
    """Limits, usage, remaining and reset times right now (what GET /api/v1/quota shows)."""
    now = now or timezone.now()
    ordered = sorted(bounds, key=lambda b: b.order)
    spans = {b.order: windows.bounds(b.period, now) for b in ordered}
    if not tally.enabled():
        return _read(ordered, spans)
    keys = {b.order: _key(b, spans[b.order][0]) for b in ordered}
    used = tally.read(keys.values())
    for b in ordered:
        key = keys[b.order]
        if key not in used:  # seeded now, so that the next call finds it
            used[key] = truth(key)
            tally.seed(key, used[key], spans[b.order][1])
    return [_standing(b, spans, used[keys[b.order]]) for b in ordered]


def _held(s: Standing, n: int, tallied: bool) -> dict[str, object]:
    b = s.bound
    held = {"subject": b.subject, "metric": b.metric, "period": b.period,
            "window_start": s.window_start.isoformat(), "n": n, "limit": b.amount,
            "hard": b.hard, "alerts": list(b.alerts), "plan": b.plan}
    if tallied:
        held["tallied"] = True
    return held


def _key(b: Bound, start: dt.datetime) -> tally.Key:
    return tally.Key(b.subject, b.metric, b.period, start)


def _counter(b: Bound, start: dt.datetime):
    return Counter.objects.filter(subject=b.subject, metric=b.metric, period=b.period,
                                  window_start=start)


def _standing(b: Bound, spans: dict, used: int) -> Standing:
    start, end = spans[b.order]
    return Standing(b, used, start, end)


def _read(ordered: list[Bound], spans: dict) -> list[Standing]:
    if not ordered:
        return []
    match = Q()
    for b in ordered:
        match |= Q(subject=b.subject, metric=b.metric, period=b.period,
                   window_start=spans[b.order][0])
    used = {(c.subject, c.metric, c.period): c.used
            for c in Counter.objects.filter(match).only("subject", "metric", "period", "used")}
    return [_standing(b, spans, used.get(b.order, 0)) for b in ordered]
