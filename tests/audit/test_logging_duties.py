"""Logging duties of a high-risk system (EU AI Act Art. 12/19, issue 26 item 5).

Audit events kept six months and more; retention purges only what is older, and `audit verify`
still proves the chain over what was kept — and still catches an edit or a deletion in it.
"""

from __future__ import annotations

import datetime as dt
from io import StringIO
from unittest import mock

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import log
from audit.models import AuditEvent


def recorded(*ages: int) -> list[AuditEvent]:
    """Events recorded as if that many days ago (the time is part of the digest)."""
    events = []
    for age in ages:
        when = timezone.now() - dt.timedelta(days=age)
        with mock.patch("audit.log.timezone.now", return_value=when):
            events.append(log.record("generation", client="app", details={"age": age}))
    return events


def verify() -> str:
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


@pytest.fixture
def six_months(db, settings):
    settings.DIHYA_RETENTION_DAYS = {**settings.DIHYA_RETENTION_DAYS, "audit": 183}
    old = recorded(400, 200, 190)
    kept = recorded(150, 30, 1)
    call_command("purge", "--retention", stdout=StringIO())
    return old, kept


def test_it_keeps_six_months_and_proves_the_chain_over_them(six_months):
    old, kept = six_months

    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEvent.objects.filter(pk__in=[e.pk for e in kept]).count() == 3
    out = verify()
    first = kept[0].created.strftime("%Y-%m-%d")
    assert out.startswith(f"audit chain ok: 4 events from {first} ")  # and the purge's own


def test_it_still_detects_an_edit_in_the_kept_period(six_months):
    _, kept = six_months
    AuditEvent.objects.filter(pk=kept[1].pk).update(completion_tokens=999)

    with pytest.raises(CommandError, match=f"event #{kept[1].pk}"):
        verify()


def test_it_still_detects_a_kept_event_deleted(six_months):
    _, kept = six_months
    AuditEvent.objects.filter(pk=kept[0].pk).delete()  # the oldest kept: not a purge

    with pytest.raises(CommandError, match=f"event #{kept[1].pk}.*does not follow"):
        verify()


def warnings() -> set[str]:
    return {m.id for m in run_checks() if m.id and m.id.startswith("dihya.W03")}


def test_it_warns_a_high_risk_system_keeping_logs_under_six_months(settings):
    settings.DIHYA_RETENTION_DAYS = {**settings.DIHYA_RETENTION_DAYS, "audit": 90}
    settings.DIHYA_HIGH_RISK = False
    assert warnings() == set()

    settings.DIHYA_HIGH_RISK = True
    assert warnings() == {"dihya.W030"}

    settings.DIHYA_RETENTION_DAYS = {**settings.DIHYA_RETENTION_DAYS, "audit": 183}
    assert warnings() == set()
    settings.DIHYA_RETENTION_DAYS = {**settings.DIHYA_RETENTION_DAYS, "audit": None}
    assert warnings() == set()
