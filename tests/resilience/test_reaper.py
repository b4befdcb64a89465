"""The reaper: stuck jobs are re-queued (same generation) or failed with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_q.models import Schedule

from dihya.gateway import schedules
from dihya.gateway.models import Generation
from dihya.generation import reaper

LONG_AGO = timezone.now() - dt.timedelta(days=1)


def job(status: str, deliveries: int, started=LONG_AGO, created=LONG_AGO) -> Generation:
    return Generation.objects.create(source="job", route_name="r", status=status,
                                     deliveries=deliveries, started=started, created=created,
                                     request={"messages": [], "max_tokens": 4})


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr("dihya.generation.jobs.enqueue", lambda g: sent.append(str(g.pk)))
    return sent


def test_it_requeues_a_job_whose_worker_vanished(db, enqueued):
    g = job("running", deliveries=1)

    assert reaper.reap()["requeued"] == 1

    g.refresh_from_db()
    assert (g.status, g.deliveries, g.started) == ("queued", 1, None)
    assert enqueued == [str(g.pk)]


def test_it_fails_a_job_after_too_many_deliveries(db, enqueued, settings):
    settings.DIHYA_MAX_DELIVERIES = 3
    g = job("running", deliveries=3)

    assert reaper.reap()["failed"] == 1

    g.refresh_from_db()
    assert (g.status, g.error_code) == ("failed", "worker_lost")
    assert enqueued == []


def test_it_fails_a_web_request_whose_process_died(db, enqueued):
    g = job("running", deliveries=0)
    reaper.reap()
    g.refresh_from_db()
    assert (g.status, g.error_code) == ("failed", "abandoned")


def test_it_leaves_jobs_within_their_deadline_alone(db, enqueued):
    fresh = job("running", deliveries=1, started=timezone.now())
    done = job("succeeded", deliveries=1)

    assert reaper.reap() == {"requeued": 0, "failed": 0, "nudged": 0}
    assert Generation.objects.get(pk=fresh.pk).status == "running"
    assert Generation.objects.get(pk=done.pk).status == "succeeded"


def test_it_re_enqueues_an_old_queued_job_once(db, enqueued):
    from django.core.cache import cache

    cache.clear()
    g = job("queued", deliveries=0, started=None)

    assert reaper.reap()["nudged"] == 1
    assert reaper.reap()["nudged"] == 0
    assert enqueued == [str(g.pk)]


def test_the_schedules_are_created_once(db):
    schedules.create()
    schedules.create()
    funcs = dict(Schedule.objects.values_list("name", "func"))
    assert funcs["dihya reaper"] == "dihya.tasks.reap"
    assert funcs["dihya engine health checks"] == "dihya.tasks.check_engines"
    assert Schedule.objects.filter(name="dihya reaper").count() == 1


def test_a_failed_job_goes_through_the_gates_like_any_other_end(db, enqueued):
    from audit.models import AuditEvent

    g = job("running", deliveries=0)
    reaper.reap()

    event = AuditEvent.objects.get(kind="generation", generation_id=g.pk)
    assert event.status == "failed"


@pytest.fixture
def web_call(db, make_engine, make_route, dead_url):
    """A web call admitted under a plan: admit(stream=...) → its generation, reserved."""
    from dihya.gateway.models import ApiClient
    from dihya.generation import pipeline
    from dihya.generation.requests import ChatBody
    from quotas.models import Assignment, Limit, Plan

    route = make_route("default", make_engine(dead_url, name="e"))
    client = ApiClient.objects.create(name="app")
    client.routes.add(route)
    plan = Plan.objects.create(name="p")
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=10, hard=True)
    Limit.objects.create(plan=plan, metric="tokens", period="day", amount=10_000, hard=True)
    Assignment.objects.create(plan=plan, client=client)
    caller = pipeline.Caller(client=client, allowed_routes=frozenset({route.pk}),
                             source=Generation.Source.CHAT)

    def admit(*, stream: bool, began: bool = False) -> Generation:
        admission = pipeline.admit(caller, ChatBody(
            model="default", stream=stream, max_tokens=40,
            messages=[{"role": "user", "content": "x" * 40}]))
        g = admission.generation
        if began:
            pipeline.heartbeat(g.pk)  # the relay's beat once its answer began
        Generation.objects.filter(pk=g.pk).update(started=LONG_AGO)
        if began:
            Generation.objects.filter(pk=g.pk).update(heartbeat=LONG_AGO)
        return g

    return admit


def counted(metric: str) -> int:
    from tests.quotas.conftest import usage

    return usage(None, metric, None)


def test_a_reaped_web_call_whose_answer_began_is_charged_its_reservation(web_call, enqueued):
    from quotas.models import Reservation

    plain, stream = web_call(stream=False), web_call(stream=True, began=True)
    reserved = counted("tokens")

    assert reaper.reap()["failed"] == 2

    for g in (plain, stream):
        assert Reservation.objects.get(generation_id=g.pk).state == "settled"
    assert counted("requests") == 2 and counted("tokens") == reserved > 80  # the estimates


def test_a_reaped_stream_that_sent_nothing_is_released(web_call, enqueued):
    from quotas.models import Reservation

    silent = web_call(stream=True)

    assert reaper.reap()["failed"] == 1

    assert Reservation.objects.get(generation_id=silent.pk).state == "released"
    assert counted("requests") == 0 and counted("tokens") == 0
