"""Gauges read from the database when Prometheus scrapes: breakers, jobs, quotas, slots.

These are states, not events: the database already holds the one truth that every web
process and worker shares, so a scrape reads it (a handful of aggregated queries, each on an
index) instead of every process keeping a gauge that could disagree with the others. Only
the scrape view registers this collector; it must never write, nor run a query per row.

`dihya_quota_used_ratio` is the highest use/limit among the subjects of a plan in the current
windows (from the 50 busiest counters), by plan, kind of subject (client | end_user) and
window: never which client or person it is.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dihya.gateway.models import Generation
from dihya.observability.metrics import name
from fallbacks import slots
from fallbacks.models import BreakerState, Engine, EngineSlot
from quotas import windows
from quotas.models import Assignment, Counter, Limit, Period

BREAKER: dict[str, int] = {BreakerState.State.CLOSED: 0, BreakerState.State.HALF_OPEN: 1,
                           BreakerState.State.OPEN: 2}
LIVE_JOBS = (Generation.Status.QUEUED, Generation.Status.RUNNING)


class StateCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from breakers()
        yield from jobs()
        yield quota_ratios()


def breakers() -> Iterator[GaugeMetricFamily]:
    state = GaugeMetricFamily("dihya_breaker_state", "Circuit breaker of an engine: "
                              "0 closed, 1 half-open, 2 open.", labels=["engine"])
    in_flight = GaugeMetricFamily("dihya_engine_in_flight", "Engine slots leased now "
                                  "(engines with a max_concurrency).", labels=["engine"])
    states = dict(BreakerState.objects.values_list("engine_id", "state"))
    leased = dict(EngineSlot.objects.filter(expires__gte=timezone.now(),
                                            number__lt=slots.TICKETS).exclude(holder="")
                  .values("engine_id").annotate(n=Count("id")).values_list("engine_id", "n"))
    for engine_id, engine, capped in Engine.objects.values_list("id", "name", "max_concurrency"):
        label = name("engine", engine)
        state.add_metric([label], BREAKER.get(states.get(engine_id, "closed"), 0))
        if capped:
            in_flight.add_metric([label], leased.get(engine_id, 0))
    yield state
    yield in_flight


def jobs() -> Iterator[GaugeMetricFamily]:
    by_status = GaugeMetricFamily("dihya_jobs", "Jobs queued or running now.", labels=["status"])
    live = Generation.objects.filter(status__in=LIVE_JOBS, source=Generation.Source.JOB)
    counts = dict(live.values("status").annotate(n=Count("id")).values_list("status", "n"))
    for status in LIVE_JOBS:
        by_status.add_metric([status], counts.get(status, 0))
    yield by_status
    oldest = live.filter(status=Generation.Status.QUEUED).aggregate(at=Min("created"))["at"]
    age = GaugeMetricFamily("dihya_oldest_queued_job_age_seconds",
                            "Age of the oldest job still waiting for a worker (0: none).")
    age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
    yield age


def quota_ratios() -> GaugeMetricFamily:
    ratio = GaugeMetricFamily("dihya_quota_used_ratio", "Highest used/limit among a plan's "
                              "subjects in the current window.",
                              labels=["plan", "subject_kind", "window"])
    now = timezone.now()
    current = Q()
    for period in Period.values:
        current |= Q(period=period, window_start=windows.bounds(period, now)[0])
    counters = list(Counter.objects.filter(current, used__gt=0).order_by("-used")
                    .values_list("subject", "metric", "period", "used")[:50])
    client_plans: dict[int, int] = dict(Assignment.objects.filter(client__isnull=False)
                        .values_list("client_id", "plan_id"))
    limits: dict[tuple[int, str, str], int] = {}
    plans: dict[int, str] = {}
    default_plan: int | None = None
    for pid, plan, is_default, metric, period, amount in Limit.objects.values_list(
            "plan_id", "plan__name", "plan__is_default", "metric", "period", "amount"):
        limits[pid, metric, period] = amount
        plans[pid] = plan
        if is_default:
            default_plan = pid
    highest: dict[tuple[str, str, str], float] = {}
    for subject, metric, period, used in counters:
        kind, _, rest = subject.partition(":")  # quotas.plans: "client:<id>" | "user:<pseudonym>"
        plan_id: int | None
        if kind == "client":
            plan_id = client_plans.get(int(rest)) if rest.isdigit() else None
            subject_kind = "client"
        else:  # an end user's own plan is not looked up (it would name a person): the default
            plan_id, subject_kind = default_plan, "end_user"
        if plan_id is None or not (limit := limits.get((plan_id, metric, period))):
            continue
        key = (name("plan", plans[plan_id]), subject_kind, period)
        highest[key] = max(highest.get(key, 0.0), used / limit)
    for labels, value in sorted(highest.items()):
        ratio.add_metric(list(labels), value)
    return ratio
