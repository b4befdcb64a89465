"""A worker whose database connection dies mid-job ends the job seconds later, once, charged
once — not after the reaper (DIHYA_JOB_DEADLINE + DIHYA_REAP_GRACE and up to a minute more).

A real qcluster child on the test database; an engine that holds the job's request while the
test kills every other connection to the database with `pg_terminate_backend` (as a restart,
a failover or an operator would), then answers. PostgreSQL only: a SQLite file has no
connection to lose.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from dihya.batches import lifecycle, scheduler
from dihya.batches.models import Batch, BatchFile, BatchLine
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from dihya.generation import jobs, pipeline
from dihya.generation.requests import ChatBody
from fallbacks.models import Route
from quotas.models import Assignment, Counter, Limit, Plan, Reservation
from tests.api.fake_engine import Gate, held_engine  # noqa: F401 - a fixture
from tests.conftest import wait_until


@pytest.fixture(autouse=True)
def _postgresql(transactional_db) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's; SQLite has no connection to lose")


def terminate_the_others() -> int:
    """Kill every connection to the test database but this test's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_a_job_whose_worker_lost_its_connection_ends_seconds_later_charged_once(
        qcluster, held_engine: tuple[str, Gate], make_engine, make_route):  # noqa: F811
    url, gate = held_engine
    make_route("r", make_engine(url, name="held", read_timeout=60), max_tokens=16)
    client = ApiClient.objects.create(name="app")
    plan = Plan.objects.create(name="some")
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=5)
    Assignment.objects.create(plan=plan, client=client)
    body = ChatBody(model="r", messages=[{"role": "user", "content": "Hi"}])
    generation = pipeline.admit(pipeline.Caller(client=client, source=Generation.Source.JOB),
                                body, queued=True).generation
    jobs.enqueue(generation)
    wait_until(lambda: gate.seen >= 1, timeout=60,
               what=lambda: "the worker to call the engine:\n" + qcluster.output()[-3000:])

    assert terminate_the_others() >= 1  # the worker's, among others (the cluster's monitor…)
    gate.open.set()
    wait_until(lambda: Generation.objects.get(pk=generation.pk).is_terminal, timeout=30,
               what=lambda: "the job:\n" + qcluster.output()[-3000:])

    generation.refresh_from_db()
    assert generation.status == "succeeded", generation.error_message
    assert generation.deliveries == 1  # this run's end, not a second delivery's
    assert [a.outcome for a in generation.attempts.all()] == ["ok"]
    assert gate.seen == 1
    assert Reservation.objects.get(generation_id=generation.pk).state == "settled"
    assert list(Counter.objects.filter(metric="requests").values_list("used", flat=True)) == [1]
    assert "trying again on a new connection" in qcluster.output()


def test_a_batch_line_whose_worker_lost_its_connection_ends_seconds_later_once(
        qcluster, held_engine: tuple[str, Gate], make_engine, make_route):  # noqa: F811
    url, gate = held_engine
    make_route("default", make_engine(url, name="held", read_timeout=60), max_tokens=16)
    client = ApiClient.objects.create(name="bulk")
    client.routes.add(Route.objects.get(name="default"))
    key, _ = keys.issue(client)
    raw = json.dumps({"custom_id": "only", "method": "POST", "url": "/v1/chat/completions",
                      "body": {"model": "default",
                               "messages": [{"role": "user", "content": "Hi"}]}}) + "\n"
    source = BatchFile.objects.create(client=client, purpose="batch", filename="in.jsonl",
                                      bytes=len(raw), lines=1, content=raw)
    batch = lifecycle.create(client, key.pk, input_file_id=source.pk,
                             endpoint="/v1/chat/completions", completion_window="24h",
                             metadata=None)
    scheduler.top_up()
    wait_until(lambda: gate.seen >= 1, timeout=60,
               what=lambda: "the worker to call the engine:\n" + qcluster.output()[-3000:])

    assert terminate_the_others() >= 1
    gate.open.set()
    wait_until(lambda: Batch.objects.get(pk=batch.pk).status == "completed", timeout=30,
               what=lambda: "the batch:\n" + qcluster.output()[-3000:])

    line = BatchLine.objects.get()
    assert (line.status, line.deliveries) == ("succeeded", 1)
    assert list(Generation.objects.values_list("status", flat=True)) == ["succeeded"]
    assert gate.seen == 1
    assert "trying again on a new connection" in qcluster.output()
