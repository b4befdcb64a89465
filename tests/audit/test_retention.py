"""Retention: only what is older than its kind's limit goes; each purge leaves counts only."""

from __future__ import annotations

import datetime as dt
from unittest import mock

from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule, Task

from audit import log
from audit.models import AuditEvent
from dihya.gateway import schedules
from dihya.gateway.models import Generation
from dihya.privacy import erasure


def days_ago(n: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=n)


def make_generation(age: int, status: str = "succeeded") -> Generation:
    return Generation.objects.create(source="command", route_name="r", status=status,
                                     created=days_ago(age))


def make_events(*ages: int) -> list[AuditEvent]:
    """Events recorded as if on those days (the clock is part of the digest)."""
    events = []
    for age in ages:
        with mock.patch("audit.log.timezone.now", return_value=days_ago(age)):
            events.append(log.record("x", details={"age": age}))
    return events


def test_it_purges_only_old_records(db):
    old, recent = make_generation(40), make_generation(5)
    running_old = make_generation(40, status="queued")
    events = make_events(400, 380, 10)
    Task.objects.create(id="o" * 32, name="old", func="f", started=days_ago(9),
                        stopped=days_ago(9), success=True)
    Task.objects.create(id="n" * 32, name="new", func="f", started=days_ago(1),
                        stopped=days_ago(1), success=True)

    counts = erasure.purge_expired({"generation": 30, "task": 7, "audit": 365})

    assert counts["generations"] == 1 and counts["tasks"] == 1 and counts["audit_events"] == 2
    assert set(Generation.objects.values_list("pk", flat=True)) == {recent.pk, running_old.pk}
    assert list(Task.objects.values_list("name", flat=True)) == ["new"]
    assert AuditEvent.objects.filter(pk=events[2].pk).exists()
    assert not AuditEvent.objects.filter(pk__in=[events[0].pk, events[1].pk]).exists()
    assert old.pk not in [str(p) for p in Generation.objects.values_list("pk", flat=True)]


def test_the_purge_leaves_an_event_with_counts_and_the_chain_verifies(db):
    make_events(400, 10)
    erasure.purge_expired({"audit": 365})

    purge = AuditEvent.objects.get(kind="purge")
    assert purge.details["counts"]["audit_events"] == 1
    assert purge.subject == ""
    assert log.verify() == (2, None)


def test_a_kind_without_a_limit_is_kept(db):
    make_generation(4000)
    erasure.purge_expired({"generation": None})
    assert Generation.objects.count() == 1


def test_the_command_applies_a_number_of_days(db, capsys):
    make_generation(3)
    make_generation(1)

    call_command("purge", "--older-than", "2")

    assert Generation.objects.count() == 1
    assert "purged" in capsys.readouterr().out


def test_the_daily_schedule_is_created_once(db):
    schedules.create()
    schedules.create()

    schedule = Schedule.objects.get(name="dihya retention purge")
    assert schedule.schedule_type == Schedule.DAILY
    assert schedule.func == "dihya.tasks.purge_expired"
