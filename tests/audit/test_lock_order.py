"""Locks are taken in one order everywhere, the audit chain's head last (issue 14 #7).

A consent withdrawal used to take the chain lock (its audit event) and then the quota
counters (releasing the person's queued jobs), while a finishing generation takes the counters
(settlement) and then the chain: on PostgreSQL two such transactions can deadlock."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from audit import consent
from quotas.models import Assignment, Limit, Plan
from tests.audit.conftest import admit


@pytest.fixture
def planned(helpdesk):
    plan = Plan.objects.create(name="people", is_default=True)
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=100, hard=True)
    Assignment.objects.create(plan=Plan.objects.create(name="app"), client=helpdesk)
    return plan


def test_a_withdrawal_touches_the_counters_before_the_chain(route, helpdesk, alice, planned):
    consent.grant(alice)
    admit(helpdesk, queued=True)

    with CaptureQueriesContext(connection) as queries:
        consent.withdraw(alice)

    sql = [q["sql"] for q in queries.captured_queries]
    # The reservation, and the counters it held (none with the quota tally: a tallied
    # reservation is on the database's counters only once settled).
    quota = [i for i, s in enumerate(sql)
             if ("quotas_counter" in s or "quotas_reservation" in s) and "UPDATE" in s]
    chain = [i for i, s in enumerate(sql) if "audit_auditchain" in s]
    assert quota and chain
    assert max(quota) < min(chain)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only")
@pytest.mark.django_db(transaction=True)
def test_a_withdrawal_and_a_settling_generation_do_not_deadlock(route, helpdesk, alice,
                                                               planned):
    # The two transactions are interleaved on purpose: the generation holds the person's
    # counters (settling) when the withdrawal starts, then records its audit event.
    from django.db import transaction
    from django.db.models import F

    from audit import log
    from quotas.models import Counter

    consent.grant(alice)
    admit(helpdesk, queued=True)  # reserves on alice's counters; the withdrawal releases it
    holding, errors = threading.Event(), []

    def settling_generation() -> None:
        try:
            with transaction.atomic():
                Counter.objects.filter(subject__startswith="user:").update(used=F("used"))
                holding.set()
                threading.Event().wait(1.0)  # the withdrawal now waits for these counters
                log.record("generation", status="succeeded")  # the chain's head, last
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def withdrawal() -> None:
        try:
            holding.wait(10)
            consent.withdraw(alice)
        except BaseException as exc:  # old order: "deadlock detected"
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=settling_generation), threading.Thread(target=withdrawal)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert not consent.is_active(alice)
