"""The quota tally (Redis) against the database's truth: seeded from it when Redis lost its
keys, given back when an admission rolls back, and either way round when the gateway is
restarted with the tally switched on or off while calls are open."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from dihya.gateway.models import ApiClient, Generation
from dihya.generation import pipeline
from dihya.generation.requests import ChatBody
from quotas import ledger, tally
from quotas.models import Assignment, Counter
from tests.quotas.conftest import NOON, bound, usage

ONE = {"requests": 1, "tokens": 100}
LIMITS = [bound(5), bound(1000, "tokens", "day")]


@pytest.fixture
def tallied(ledger_mode):
    if ledger_mode != "tally":
        pytest.skip("about the tally")


@pytest.mark.parametrize("ledger_mode", ["tally"], indirect=True)
def test_it_is_seeded_from_the_database_when_redis_lost_its_keys(db, tallied):
    settled, released, open_ = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for gid in (settled, released, open_):
        ledger.reserve(gid, LIMITS, ONE, now=NOON)
    ledger.settle(settled, tokens=40)
    ledger.release(released)

    assert tally.forget_all() == 2  # Redis restarted: it keeps nothing on disk here

    # The database: one settled call (40 tokens) and one still open (100 held).
    assert [s.used for s in ledger.status(LIMITS, now=NOON)] == [2, 140]
    for _ in range(3):
        ledger.reserve(uuid.uuid4(), LIMITS, ONE, now=NOON)
    with pytest.raises(ledger.QuotaExceeded):
        ledger.reserve(uuid.uuid4(), LIMITS, ONE, now=NOON)
    assert usage() == 5 and usage(metric="tokens", period="day") == 440


@pytest.mark.parametrize("ledger_mode", ["tally"], indirect=True)
def test_a_rolled_back_admission_gives_its_charge_back(db, tallied, make_route, make_engine,
                                                       make_plan, monkeypatch):
    make_route("default", make_engine("http://engine.test/v1"))
    client = ApiClient.objects.create(name="app")
    Assignment.objects.create(client=client, plan=make_plan("one", (1, "requests", "minute")))
    caller = pipeline.Caller(client=client)
    body = ChatBody(model="default", messages=[{"role": "user", "content": "hi"}])

    def broken_save(*args, **kwargs):
        raise RuntimeError("the database refused the row")

    with monkeypatch.context() as patched:
        patched.setattr(Generation, "save", broken_save)
        with pytest.raises(RuntimeError):
            pipeline.admit(caller, body)

    assert usage(f"client:{client.pk}") == 0
    pipeline.admit(caller, body)  # the one request of the minute is still there to take


@pytest.mark.parametrize("ledger_mode", ["tally"], indirect=True)
def test_it_moves_redis_only_once_the_database_committed(transactional_db, tallied):
    gid = uuid.uuid4()
    ledger.reserve(gid, LIMITS, ONE, now=NOON)

    with pytest.raises(RuntimeError), transaction.atomic():
        ledger.release(gid)
        raise RuntimeError("the recorder's transaction failed")

    assert usage() == 1  # still reserved, in the database and in Redis
    assert ledger.release(gid)
    assert usage() == 0


def test_a_call_reserved_in_one_mode_settles_exactly_in_the_other(db, settings, ledger_mode):
    gid = uuid.uuid4()
    ledger.reserve(gid, LIMITS, ONE, now=NOON)  # in this test's mode

    settings.DIHYA_QUOTA_TALLY = ledger_mode == "database"  # the gateway restarted, switched
    ledger.settle(gid, tokens=30)

    settings.DIHYA_QUOTA_TALLY = False  # what the database says (Redis has no key of it)
    assert [c.used for c in Counter.objects.order_by("metric")] == [1, 30]
    assert usage() == 1 and usage(metric="tokens", period="day") == 30


@pytest.mark.parametrize("ledger_mode", ["tally"], indirect=True)
def test_a_charge_is_given_back_only_when_no_reservation_holds_it(db, tallied):
    gid = uuid.uuid4()
    standings = ledger.reserve(gid, LIMITS, ONE, now=NOON)
    again = ledger.reserve(gid, LIMITS, ONE, now=NOON)  # a re-delivered job: charged once

    ledger.unreserve(gid, again, ONE)  # its admission rolled back: the first one's stands

    assert [s.used for s in standings] == [s.used for s in again] == [1, 100]
    assert usage() == 1 and usage(metric="tokens", period="day") == 100


def test_rebuild_drops_the_tally_or_says_it_is_off(db, ledger_mode):
    from django.core.management import CommandError, call_command

    ledger.reserve(uuid.uuid4(), LIMITS, ONE, now=NOON)
    if ledger_mode == "database":
        with pytest.raises(CommandError, match="the quota tally is off"):
            call_command("rebuild_quota_tally")
        return

    call_command("rebuild_quota_tally")

    assert tally.kept(["client:1"]) == {}  # dropped, then seeded again on use:
    assert [s.used for s in ledger.status(LIMITS, now=NOON)] == [1, 100]
