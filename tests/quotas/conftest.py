"""Quota fixtures: plans built in one line, bounds without the database, a fixed clock."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.conf import settings

from quotas import ledger, tally
from quotas.ledger import Bound
from quotas.models import Counter, Limit, Plan, Reservation

NOON = dt.datetime(2025, 3, 14, 12, 0, 30, tzinfo=dt.UTC)


@pytest.fixture(params=["database", "tally"])
def ledger_mode(request, settings, monkeypatch) -> str:
    """Each quota test that takes this runs twice: on the database's counters alone, and with
    the quota tally in Redis — the suite's Redis, or in the SQLite setup (no REDIS_URL) a
    Redis database of this test worker's own on the machine's Redis."""
    if request.param == "database":
        settings.DIHYA_QUOTA_TALLY = False
        return request.param
    if not settings.REDIS_URL:
        import redis

        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
        settings.REDIS_URL = f"redis://127.0.0.1:6379/{12 - int(worker or 0)}"
        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
        except redis.RedisError:
            pytest.skip("no Redis on 127.0.0.1:6379 for the quota tally")
    settings.DIHYA_QUOTA_TALLY = True
    tally.forget_all()
    if "transactional_db" not in request.fixturenames:  # a `db` test never commits
        monkeypatch.setattr(ledger._Moves, "after_commit", staticmethod(lambda fn: fn()))
    return request.param


@pytest.fixture
def make_plan(db):
    """make_plan("starter", (20, "requests", "minute"), (100, "tokens", "day", False))"""

    def make(name: str, *limits: tuple, alerts: list[int] | None = None,
             default: bool = False) -> Plan:
        plan = Plan.objects.create(name=name, alerts=alerts or [], is_default=default)
        for amount, metric, period, *hard in limits:
            Limit.objects.create(plan=plan, amount=amount, metric=metric, period=period,
                                 hard=hard[0] if hard else True)
        return plan

    return make


def bound(amount: int, metric: str = "requests", period: str = "minute", *,
          subject: str = "client:1", hard: bool = True, alerts: tuple[int, ...] = ()) -> Bound:
    return Bound(subject, metric, period, amount, hard, alerts, "test")


def usage(subject: str | None = "client:1", metric: str = "requests",
          period: str | None = "minute") -> int:
    """What the ledger counts for a limit over every window it has (None: of every subject,
    or every period): its database counters plus what open tallied reservations hold
    (`ledger.truth`). With the quota tally on, Redis must say the same of each window."""
    def wanted(s: str, m: str, p: str) -> bool:
        return m == metric and subject in (None, s) and period in (None, p)

    keys = {tally.Key(c.subject, c.metric, c.period, c.window_start)
            for c in Counter.objects.filter(metric=metric) if wanted(c.subject, c.metric, c.period)}
    for held in Reservation.objects.filter(state="reserved").values_list("held", flat=True):
        keys |= {tally.Key(h["subject"], h["metric"], h["period"],
                           dt.datetime.fromisoformat(h["window_start"]))
                 for h in held if wanted(h["subject"], h["metric"], h["period"])}
    total = 0
    for key in keys:
        truth = ledger.truth(key)
        if settings.DIHYA_QUOTA_TALLY:
            assert tally.read([key]).get(key, truth) == truth, (key, "the tally disagrees")
        total += truth
    return total
