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
