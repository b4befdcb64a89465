"""The numbers on the admin's home page, from aggregated queries only.

Every figure is one `GROUP BY` over an indexed time range (generations by `created`, attempts
by `(engine, created)`), never a loop over rows in Python, so the page stays fast on millions
of generations. Percentiles are read by offset on the ordered range of one engine (two small
queries) rather than by loading latencies into memory.

Engines' breakers, quota usage and alerts belong to their apps; this module only reads them,
through `fallbacks.breaker_control.snapshot()` and the quota models' managers, and never
changes them. The routing figures (each engine's share of the traffic it served, its latency
averages and its requests in flight) come from the strategies' shared state
(`fallbacks.latency`, `fallbacks.slots`): one read each. Each engine's load is split live
versus batch: the calls and tokens it served to batch lines and to everything else (API calls,
jobs, the console's tests), in one `GROUP BY` over generations by `(engine, created)`, and the
batch lines it serves now against its batch share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Trunc
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dihya.console import subjects
from dihya.gateway.models import Attempt, Generation
from fallbacks import breaker_control, latency, slots
from fallbacks.models import Engine
from fallbacks.strategies.base import FIRST_TOKEN, PER_TOKEN
from quotas import windows
from quotas.models import Alert, Counter, Limit, Metric, Period

PERIODS: dict[str, tuple[timedelta, str]] = {
    # period: (how far back, bucket size for the chart)
    "hour": (timedelta(hours=1), "minute"),
    "day": (timedelta(days=1), "hour"),
    "week": (timedelta(days=7), "day"),
}


@dataclass(frozen=True)
class EngineFigures:
    engine: str
    attempts: int
    ok: int
    p50_ms: float | None
    p95_ms: float | None
    share: float | None = None           # of the generations served in the period
    first_token_ms: float | None = None  # latency averages (EWMA), for lowest_latency
    per_token_ms: float | None = None
    in_flight: int = 0                   # counted for capped engines and least_busy routes
    # Live versus batch load: what it served in the period to batch lines and to the rest.
    live_calls: int = 0
    live_tokens: int = 0
    batch_calls: int = 0
    batch_tokens: int = 0
    batch_in_flight: int = 0             # batch lines now (counted on engines with a share)
    batch_share: int | None = None

    @property
    def success_rate(self) -> float | None:
        return self.ok / self.attempts if self.attempts else None


def since(period: str, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - PERIODS[period][0]


def totals(period: str, now: datetime | None = None) -> dict[str, Any]:
    start = since(period, now)
    gens = Generation.objects.filter(created__gte=start)
    counts = gens.aggregate(
        total=Count("id"),
        succeeded=Count("id", filter=Q(status=Generation.Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=Generation.Status.FAILED)),
        queued=Count("id", filter=Q(status__in=(Generation.Status.QUEUED,
                                                Generation.Status.RUNNING))),
    )
    # A fallback happened when the serving engine was not the route's first attempt.
    fell_back = (Attempt.objects.filter(created__gte=start, outcome="ok", position__gt=0)
                 .count())
    minutes = PERIODS[period][0].total_seconds() / 60
    finished = counts["succeeded"] + counts["failed"]
    return {
        **counts,
        "fallbacks": fell_back,
        "per_minute": round(counts["total"] / minutes, 2),
        "success_rate": counts["succeeded"] / finished if finished else None,
        "fallback_rate": fell_back / counts["succeeded"] if counts["succeeded"] else None,
    }


def series(period: str, now: datetime | None = None) -> list[dict[str, Any]]:
    """Generations per bucket and status, oldest first, for the chart: every bucket of the
    period, the empty ones too, so that the chart's time axis runs evenly (a quiet hour is a
    gap, not two bars side by side)."""
    now = now or timezone.now()
    bucket = PERIODS[period][1]
    rows = (Generation.objects.filter(created__gte=since(period, now))
            .annotate(bucket=Trunc("created", bucket))
            .values("bucket", "status").annotate(n=Count("id")).order_by("bucket"))
    merged = {at: {"t": at.isoformat()} for at in buckets(period, now)}
    for row in rows:
        point = merged.setdefault(row["bucket"], {"t": row["bucket"].isoformat()})
        point[row["status"]] = row["n"]
    return [merged[at] for at in sorted(merged)]


def buckets(period: str, now: datetime) -> list[datetime]:
    """The starts of the period's buckets up to `now`, in the current time zone (as `Trunc`
    makes them). Stepped in absolute time and truncated again, so that a change of daylight
    saving time neither repeats nor skips a bucket (a day's step is 25 h, then back to 0:00)."""
    size = PERIODS[period][1]
    step = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1),
            "day": timedelta(hours=25)}[size]
    at = start_of(since(period, now), size)
    found = []
    while at <= now:
        found.append(at)
        at = start_of(at + step, size)
    return found


def start_of(at: datetime, size: str) -> datetime:
    """The start of the minute, hour or day `at` is in, in the current time zone."""
    local = timezone.localtime(at).replace(second=0, microsecond=0)
    if size == "minute":
        return local
    local = local.replace(minute=0)
    return local if size == "hour" else local.replace(hour=0)


def engines(period: str, now: datetime | None = None) -> list[EngineFigures]:
    start = since(period, now)
    rows = list(Attempt.objects.filter(created__gte=start)
                .values("engine_id", "engine_name")
                .annotate(attempts=Count("id"), ok=Count("id", filter=Q(outcome="ok")))
                .order_by("engine_name"))
    served = sum(row["ok"] for row in rows)
    ids = [row["engine_id"] for row in rows if row["engine_id"]]
    averages = latency.store().read() if ids else {}
    busy = slots.in_use_by_engine(ids) if ids else {}
    load = split_load(ids, start)
    batch_busy = slots.in_use_by_engine(ids, tickets=True) if ids else {}
    shares = dict(Engine.objects.filter(pk__in=ids).values_list("pk", "batch_share"))
    figures = []
    for row in rows:
        # Filtered by engine id so the (engine, created) index serves the range.
        ok_range = Attempt.objects.filter(engine_id=row["engine_id"], created__gte=start,
                                          outcome="ok")
        first, per = (averages.get((row["engine_id"], kind)) for kind in (FIRST_TOKEN,
                                                                           PER_TOKEN))
        figures.append(EngineFigures(
            engine=row["engine_name"], attempts=row["attempts"], ok=row["ok"],
            p50_ms=percentile(ok_range, row["ok"], 0.50),
            p95_ms=percentile(ok_range, row["ok"], 0.95),
            share=row["ok"] / served if served else None,
            first_token_ms=round(first.value, 1) if first else None,
            per_token_ms=round(per.value, 1) if per else None,
            in_flight=busy.get(row["engine_id"], 0),
            **load.get(row["engine_id"], {}),
            batch_in_flight=batch_busy.get(row["engine_id"], 0),
            batch_share=shares.get(row["engine_id"]),
        ))
    return figures


def split_load(engine_ids: list[int], start: datetime) -> dict[int, dict[str, int]]:
    """Calls and tokens each engine served since `start`, to batch lines and to the rest."""
    if not engine_ids:
        return {}
    batch = Q(source=Generation.Source.BATCH)
    tokens = F("prompt_tokens") + F("completion_tokens")
    rows = (Generation.objects.filter(engine_id__in=engine_ids, created__gte=start)
            .values("engine_id")
            .annotate(live_calls=Count("id", filter=~batch),
                      batch_calls=Count("id", filter=batch),
                      live_tokens=Sum(tokens, filter=~batch),
                      batch_tokens=Sum(tokens, filter=batch)))
    return {row.pop("engine_id"): {k: int(v or 0) for k, v in row.items()} for row in rows}


def percentile(queryset, count: int, q: float) -> float | None:
    if not count:
        return None
    index = min(count - 1, int(q * count))
    value = queryset.order_by("latency_ms").values_list("latency_ms", flat=True)[index:index + 1]
    found = list(value)
    return round(found[0], 1) if found else None


def recent_failures(limit: int = 8) -> list[Generation]:
    return list(Generation.objects.filter(status=Generation.Status.FAILED)
                .only("id", "route_name", "error_code", "created")[:limit])


def engine_states() -> list[dict[str, Any]]:
    """Every engine's breaker (state, since, last error, next probe) and last health probe.
    The snapshot's times are ISO strings (the API's); `*_at` are the same as datetimes, for
    the page to show in the local time zone with the date filter."""
    return [state | {f"{key}_at": parse_datetime(state[key]) if state[key] else None
                     for key in ("next_probe", "last_seen_up")}
            for state in breaker_control.snapshot()]


@dataclass(frozen=True)
class QuotaUse:
    subject: str
    period: str
    used: int
    limit: int | None  # known for API clients (their plan); an end user's is not looked up

    @property
    def percent(self) -> int | None:
        return min(100, round(100 * self.used / self.limit)) if self.limit else None


def top_quota_users(limit: int = 5, now: datetime | None = None) -> list[QuotaUse]:
    """Who used most requests in the current windows, nearest their limit first (3 queries)."""
    now = now or timezone.now()
    current = Q()
    for period in Period.values:
        current |= Q(period=period, window_start=windows.bounds(period, now)[0])
    counters = list(Counter.objects.filter(current, metric=Metric.REQUESTS, used__gt=0)
                    .order_by("-used").values_list("subject", "period", "used")[:50])
    client_ids = {cid for s, _, _ in counters if (cid := _client_id(s)) is not None}
    named = subjects.names(s for s, _, _ in counters)  # clients and people, by name
    limits = {(f"client:{cid}", period): amount for cid, period, amount in
              Limit.objects.filter(plan__assignments__client_id__in=client_ids,
                                   metric=Metric.REQUESTS)
              .values_list("plan__assignments__client_id", "period", "amount")}
    uses = []
    for subject, period, used in counters:
        label = subjects.label(subject, named)
        uses.append(QuotaUse(label, period, used, limits.get((subject, period))))
    uses.sort(key=lambda u: (-(u.percent or 0), -u.used))
    return uses[:limit]


def _client_id(subject: str) -> int | None:
    kind, _, rest = subject.partition(":")  # quotas.plans.client_subject: "client:<id>"
    return int(rest) if kind == "client" and rest.isdigit() else None


def open_alerts(limit: int = 8) -> list[Alert]:
    """Alerts nobody has acknowledged yet, newest first."""
    return list(Alert.objects.filter(acknowledged__isnull=True)[:limit])
