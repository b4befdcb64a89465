"""The quota ledger: reserve before a call, settle or release after it. Exact under concurrency.

Every change to a counter is one conditional UPDATE (`used = used + n WHERE used + n <= limit`)
on a row that exists beforehand (INSERT … ON CONFLICT DO NOTHING), never a read-modify-write.
On PostgreSQL a concurrent UPDATE of the same row waits for the first to commit and then
re-checks its WHERE against the new value; on SQLite the transaction is BEGIN IMMEDIATE, so
writers take turns. Either way, with N concurrent calls against a limit of L exactly min(N, L)
get through, across any number of processes. Counters are updated in one fixed order (sorted
keys) so two reservations never wait on each other in a cycle.

A reservation is recorded per generation id (unique), which makes the three verbs idempotent:
reserving the same generation twice charges once, settling or releasing twice adjusts once.
Settling adjusts the counters of the windows the call was reserved in, even if a window has
rolled over since; the call is counted where it was admitted. Amounts are given per thing a
call uses (`requests`, `tokens`, `cost`); a bound on a batch-only metric (`batch_tokens`) is
charged the same amount as its plain one, on its own counter (`Bound.counts`).

This module must never decide who gets which limits (`quotas.plans` does) nor talk to clients.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from quotas import alerts, windows
from quotas.bounds import Bound, Standing, batch_only, counted
from quotas.models import Counter, Reservation


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
    back."""
    now = now or timezone.now()
    if not bounds:
        return []
    ordered = sorted(bounds, key=lambda b: b.order)
    spans = {b.order: windows.bounds(b.period, now) for b in ordered}
    try:
        with transaction.atomic():
            standings = []
            for b in ordered:
                n = amounts.get(b.counts, 0)
                start = spans[b.order][0]
                ceiling = b.amount if b.hard else None
                used = _bump(b.subject, b.metric, b.period, start, n, ceiling)
                if used is None:  # the window's counter may not exist yet: create, retry once
                    Counter.objects.bulk_create([Counter(subject=b.subject, metric=b.metric,
                                                         period=b.period, window_start=start)],
                                                ignore_conflicts=True)
                    used = _bump(b.subject, b.metric, b.period, start, n, ceiling)
                if used is None:
                    raise QuotaExceeded(_standing(b, spans, _counter(b, start).get().used), n,
                                        now)
                standings.append(_standing(b, spans, used))
            Reservation.objects.create(generation_id=generation_id, held=[
                _held(s, amounts.get(s.bound.counts, 0)) for s in standings])
    except IntegrityError:
        # Already reserved (a re-delivered job): the savepoint undid this second charge.
        return status(bounds, now=now)
    for s in standings:
        alerts.check(s, amounts.get(s.bound.counts, 0))
    return standings


def settle(generation_id: UUID, *, tokens: int | None,
           cost: int | Callable[[], int] = 0) -> bool:
    """Replace the reserved tokens (and cost) by the real usage. False if already done.
    `tokens=None` (the engine did not count) keeps the reserved estimate as the charge.

    Real usage above the estimate is counted even past a hard limit: it happened. Crossing an
    alert threshold that way alerts like a reservation would."""
    held = _close(generation_id, Reservation.State.SETTLED)
    if held is None:
        return False
    if tokens is None:
        return True
    real = {"tokens": tokens}
    if any(counted(h["metric"]) == "cost" for h in held):
        real["cost"] = cost() if callable(cost) else cost
    for h in held:
        what = counted(h["metric"])
        if what in real and real[what] != h["n"]:
            delta = real[what] - h["n"]
            start = dt.datetime.fromisoformat(h["window_start"])
            used = _bump(h["subject"], h["metric"], h["period"], start, delta)
            if delta > 0 and h["alerts"] and used is not None:
                bound = Bound(h["subject"], h["metric"], h["period"], h["limit"], h["hard"],
                              tuple(h["alerts"]), h["plan"])
                end = windows.bounds(bound.period, start)[1]
                alerts.check(Standing(bound, used, start, end), delta)
    return True


def release(generation_id: UUID) -> bool:
    """Give back everything a call reserved (it failed or was cancelled). False if already
    settled or released, or never reserved."""
    held = _close(generation_id, Reservation.State.RELEASED)
    if held is None:
        return False
    for h in held:
        if h["n"]:
            _bump(h["subject"], h["metric"], h["period"],
                  dt.datetime.fromisoformat(h["window_start"]), -h["n"])
    return True


def charge_served(generation_id: UUID, *, tokens: int,
                  cost: int | Callable[[], int] = 0) -> bool:
    """Count a call whose reservation was released (its generation was given up on) but that
    was served after all: one request and its real usage, in the windows it was reserved in,
    past any limit (it happened). False unless the reservation was released and not yet
    charged; charging twice charges once."""
    held = _close(generation_id, Reservation.State.SETTLED, was=Reservation.State.RELEASED)
    if held is None:
        return False
    real = {"requests": 1, "tokens": tokens}
    if any(counted(h["metric"]) == "cost" for h in held):
        real["cost"] = cost() if callable(cost) else cost
    for h in held:
        if n := real.get(counted(h["metric"]), 0):
            _bump(h["subject"], h["metric"], h["period"],
                  dt.datetime.fromisoformat(h["window_start"]), n)
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
    once, as before), and the counters move by the sum of the calls' adjustments, one
    conditional-free UPDATE per counter row, in the same sorted order as `reserve` (no lock
    cycle with a reservation). Returns how many reservations it closed. Thresholds crossed by
    the sum alert as a single call's real usage would."""
    settling = [c for c in closings if not c.release]
    held = _close_many([c.generation_id for c in settling], Reservation.State.SETTLED)
    held.update(_close_many([c.generation_id for c in closings if c.release],
                            Reservation.State.RELEASED))
    deltas: dict[tuple[str, str, str, str], int] = {}
    alerting: dict[tuple[str, str, str, str], dict] = {}
    for c in closings:
        rows = held.get(c.generation_id)
        if rows is None:
            continue
        if c.release:
            real: dict[str, int] = {}
        elif c.tokens is None:
            continue
        else:
            real = {"tokens": c.tokens}
            if any(counted(h["metric"]) == "cost" for h in rows):
                real["cost"] = c.cost() if callable(c.cost) else c.cost
        for h in rows:
            delta = -h["n"] if c.release else real.get(counted(h["metric"]), h["n"]) - h["n"]
            if delta:
                key = (h["subject"], h["metric"], h["period"], h["window_start"])
                deltas[key] = deltas.get(key, 0) + delta
                if h["alerts"]:
                    alerting[key] = h
    for key in sorted(deltas):
        subject, metric, period, window_start = key
        start = dt.datetime.fromisoformat(window_start)
        used = _bump(subject, metric, period, start, deltas[key])
        if deltas[key] > 0 and key in alerting and used is not None:
            h = alerting[key]
            bound = Bound(subject, metric, period, h["limit"], h["hard"], tuple(h["alerts"]),
                          h["plan"])
            alerts.check(Standing(bound, used, start, windows.bounds(period, start)[1]),
                         deltas[key])
    return len(held)


def _close_many(generation_ids: list[UUID], state: str) -> dict[UUID, list]:
    """Move these reservations from reserved to `state` in one statement; what each held."""
    if not generation_ids:
        return {}
    ops = connection.ops
    table, state_, gid_, held_ = (ops.quote_name(name) for name in (
        Reservation._meta.db_table, "state", "generation_id", "held"))
    gid_field = Reservation._meta.get_field("generation_id")
    held_field = Reservation._meta.get_field("held")
    marks = ", ".join(["%s"] * len(generation_ids))
    # The names are our own, quoted; every value is a parameter.
    sql = (f"UPDATE {table} SET {state_} = %s WHERE {state_} = %s "  # noqa: S608
           f"AND {gid_} IN ({marks}) RETURNING {gid_}, {held_}")
    params = [state, Reservation.State.RESERVED,
              *(gid_field.get_db_prep_value(g, connection) for g in generation_ids)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return {gid_field.to_python(gid): held_field.from_db_value(held, None, connection)  # type: ignore[arg-type]
            for gid, held in rows}


def status(bounds: Iterable[Bound], *, now: dt.datetime | None = None) -> list[Standing]:
    """Limits, usage, remaining and reset times right now (what GET /api/v1/quota shows)."""
    now = now or timezone.now()
    ordered = sorted(bounds, key=lambda b: b.order)
    return _read(ordered, {b.order: windows.bounds(b.period, now) for b in ordered})


def _close(generation_id: UUID, state: str,
           was: str = Reservation.State.RESERVED) -> list | None:
    with transaction.atomic():
        if not Reservation.objects.filter(generation_id=generation_id,
                                          state=was).update(state=state):
            return None
        return Reservation.objects.values_list("held", flat=True).get(generation_id=generation_id)


def _held(s: Standing, n: int) -> dict[str, object]:
    b = s.bound
    return {"subject": b.subject, "metric": b.metric, "period": b.period,
            "window_start": s.window_start.isoformat(), "n": n, "limit": b.amount,
            "hard": b.hard, "alerts": list(b.alerts), "plan": b.plan}


def _bump(subject: str, metric: str, period: str, start: dt.datetime, n: int,
          ceiling: int | None = None) -> int | None:
    """`used += n` on one counter, unless that would pass `ceiling`: one statement that returns
    the new value (None: no such counter, or the ceiling held). Raw SQL because the ORM cannot
    return from an UPDATE, and building these queries cost more CPU than running them
    (docs/benchmarks.md); PostgreSQL and SQLite >= 3.35 both have RETURNING."""
    ops = connection.ops
    table, used, subject_, metric_, period_, start_ = (ops.quote_name(name) for name in (
        Counter._meta.db_table, "used", "subject", "metric", "period", "window_start"))
    # The names are our own, quoted; every value is a parameter.
    sql = (f"UPDATE {table} SET {used} = {used} + %s WHERE {subject_} = %s "  # noqa: S608
           f"AND {metric_} = %s AND {period_} = %s AND {start_} = %s")
    params: list[Any] = [n, subject, metric, period, ops.adapt_datetimefield_value(start)]
    if ceiling is not None:
        sql += f" AND {used} <= %s"
        params.append(ceiling - n)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {used}", params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])


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
