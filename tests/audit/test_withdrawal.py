"""Withdrawal takes effect at once: queued jobs are cancelled and are never run."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit import consent
from dihya.gateway.models import Generation
from dihya.generation import jobs
from dihya.generation.errors import Refusal
from tests.audit.conftest import admit


def test_it_cancels_the_users_queued_jobs_on_withdrawal(route, helpdesk, alice, make_user,
                                                       engine):
    bob = make_user("bob")
    consent.grant(alice)
    consent.grant(bob)
    mine = [admit(helpdesk, queued=True).generation for _ in range(2)]
    theirs = admit(helpdesk, user="bob", queued=True).generation

    consent.withdraw(alice)

    assert {g.status for g in Generation.objects.filter(pk__in=[g.pk for g in mine])} == {
        "cancelled"}
    assert Generation.objects.get(pk=theirs.pk).status == "queued"
    assert jobs.run(mine[0].pk) == "cancelled"
    assert not engine.called


def test_it_keeps_the_history_as_proof(alice):
    consent.grant(alice)
    consent.withdraw(alice)
    consent.grant(alice)

    history = consent.history(alice)
    assert len(history) == 2
    assert history[1].withdrawn_at is not None and history[1].withdrawn_how == "privacy page"
    assert history[0].withdrawn_at is None
    assert consent.is_active(alice)


def test_granting_twice_keeps_one_open_consent(alice):
    first = consent.grant(alice)
    assert consent.grant(alice).pk == first.pk


def test_a_job_put_back_in_the_queue_after_a_withdrawal_does_not_run(route, helpdesk, alice,
                                                                    engine):
    import datetime as dt

    from django.utils import timezone

    from dihya.generation import reaper

    consent.grant(alice)
    job = admit(helpdesk, queued=True).generation
    # A worker claimed it and died: the row is running, its worker long gone.
    Generation.objects.filter(pk=job.pk).update(
        status="running", deliveries=1, started=timezone.now() - dt.timedelta(hours=1))
    consent.withdraw(alice)  # cancels queued jobs only: this one was running
    assert reaper.reap()["requeued"] == 1

    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.error_code == "consent_required"
    assert not engine.called


def test_a_live_call_after_a_withdrawal_is_refused_though_consent_was_remembered(
        route, helpdesk, alice):
    consent.grant(alice)
    admit(helpdesk)  # the person and their consent are remembered from here on
    with CaptureQueriesContext(connection) as second:
        admit(helpdesk)
    assert not [q for q in second.captured_queries
                if '"auth_user"' in q["sql"] or '"audit_consent"' in q["sql"]]

    consent.withdraw(alice)

    with pytest.raises(Refusal) as refused:
        admit(helpdesk)
    assert refused.value.code == "consent_required"


def test_a_deactivated_account_is_nobody_on_the_next_call(route, helpdesk, alice):
    consent.grant(alice)
    assert admit(helpdesk).generation.user == alice

    alice.is_active = False
    alice.save()

    with pytest.raises(Refusal):  # unknown to the client now: asked to consent, not served
        admit(helpdesk)
