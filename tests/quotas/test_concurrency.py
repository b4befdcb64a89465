"""The proof: N concurrent calls against a limit of L admit exactly min(N, L).

Real concurrency: threads, each with its own database connection, released together. The
admission path is the pipeline's own (`pipeline.admit`, its transaction and every gate).
Runs on whichever database the suite runs on (SQLite by default, PostgreSQL with
DATABASE_URL); both must hold.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from dihya.gateway.models import ApiClient, Generation
from dihya.generation import pipeline
from dihya.generation.errors import Refusal
from dihya.generation.requests import ChatBody
from quotas import ledger, plans
from quotas.models import Alert, Assignment
from tests.quotas.conftest import NOON, bound, usage

pytestmark = pytest.mark.usefixtures("ledger_mode")  # on the database, and with the tally

N, L = 200, 20
THREADS = 32  # below PostgreSQL's default max_connections, shared with other test runs


def hammer(call, n: int = N) -> Tally:
    """Run `call()` n times on THREADS threads started together; tally what each returned."""
    start = threading.Barrier(THREADS)

    def worker(jobs: list[int]) -> list[str]:
        results = []
        try:
            start.wait(timeout=30)
            for _ in jobs:
                results.append(call())
        finally:
            connection.close()
        return results

    shares = [list(range(n))[i::THREADS] for i in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        return Tally(r for results in pool.map(worker, shares) for r in results)


def test_it_admits_exactly_the_limit_through_the_pipeline(transactional_db, make_engine,
                                                          make_route, make_plan):
    make_route("default", make_engine("http://engine.test/v1"), max_tokens=16)
    client = ApiClient.objects.create(name="app")
    Assignment.objects.create(client=client, plan=make_plan(
        "starter", (L, "requests", "minute"), (10**9, "tokens", "day"), alerts=[80, 100]))
    caller = pipeline.Caller(client=client)

    def call() -> str:
        body = ChatBody(model="default", messages=[{"role": "user", "content": "hi"}])
        try:
            pipeline.admit(caller, body)
        except Refusal as refused:
            return refused.code
        return "admitted"

    # Spread over at most two minute windows, should the run straddle a boundary.
    first = timezone.now()
    tally = hammer(call)
    [limit] = [b for b in plans.bounds_for(client.pk, None, "", batch=False)
               if b.metric == "requests"]

    # What the windows the run touched hold (the minute it began in, the one it ended in).
    starts = {ledger.status([limit], now=t)[0].window_start for t in (first, timezone.now())}
    used = [n for n in (ledger.status([limit], now=start)[0].used for start in starts) if n]
    windows = len(used)
    assert tally["admitted"] == min(N, L * windows) == Generation.objects.count()
    assert tally["quota_exceeded"] == N - tally["admitted"]
    assert usage(f"client:{client.pk}") == tally["admitted"]
    assert set(used) <= {L}
    assert Alert.objects.filter(threshold=100).count() == windows
    assert Alert.objects.filter(threshold=80).count() == windows


@pytest.mark.parametrize("metric,amount,each", [("requests", L, 1), ("tokens", 2000, 100)])
def test_it_admits_exactly_the_limit_at_the_ledger(transactional_db, metric, amount, each):
    limits = [bound(amount, metric, "day", alerts=(50, 80, 100)),
              bound(10**6, "requests", "day", subject="user:p_1", hard=False)]

    def call() -> str:
        try:
            ledger.reserve(uuid.uuid4(), limits, {"requests": 1, "tokens": 100}, now=NOON)
        except ledger.QuotaExceeded:
            return "refused"
        return "admitted"

    tally = hammer(call)

    assert tally == {"admitted": amount // each, "refused": N - amount // each}
    assert usage("client:1", metric, "day") == amount
    assert usage("user:p_1", "requests", "day") == amount // each
    assert sorted(Alert.objects.values_list("threshold", flat=True)) == [50, 80, 100]


def test_it_raises_one_alert_when_many_reservations_cross_the_same_threshold(transactional_db):
    """Releases push a counter back under a threshold, so several calls cross it: still one."""
    limits = [bound(4, alerts=(50,))]

    def call() -> str:
        gid = uuid.uuid4()
        try:
            ledger.reserve(gid, limits, {"requests": 1}, now=NOON)
        except ledger.QuotaExceeded:
            return "refused"
        ledger.release(gid)
        return "admitted"

    tally = hammer(call, n=100)

    assert tally["admitted"] >= 2
    assert Alert.objects.filter(threshold=50).count() == 1
    assert usage() == 0


def test_it_inserts_one_alert_when_threads_raise_the_same_one(transactional_db):
    from quotas import alerts

    fields = {"subject": "client:1", "metric": "requests", "period": "day", "threshold": 80,
              "window_start": NOON, "amount": 10, "used": 8, "message": "80 %"}

    tally = hammer(lambda: "raised" if alerts.raise_alert(**fields) else "existed", n=64)

    assert tally == {"raised": 1, "existed": 63}
    assert Alert.objects.count() == 1
