"""Reserving, settling and releasing: the ledger's verbs against real counter rows."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from quotas import ledger
from quotas.models import Counter, Reservation
from tests.quotas.conftest import NOON, bound, usage

pytestmark = pytest.mark.usefixtures("ledger_mode")  # on the database, and with the tally

ONE = {"requests": 1, "tokens": 100}


used = usage


def test_it_admits_up_to_a_hard_limit_and_then_refuses(db):
    limit = [bound(3)]
    for _ in range(3):
        ledger.reserve(uuid.uuid4(), limit, ONE, now=NOON)

    with pytest.raises(ledger.QuotaExceeded) as refused:
        ledger.reserve(uuid.uuid4(), limit, ONE, now=NOON)

    assert used() == 3
    message = str(refused.value)
    assert "3 requests per minute" in message and "used 3/3" in message
    assert "2025-03-14T12:01:00+00:00" in message
    assert refused.value.retry_after == 30
    assert Reservation.objects.count() == 3


def test_it_counts_soft_limits_without_blocking(db):
    limit = [bound(2, hard=False)]
    for _ in range(5):
        ledger.reserve(uuid.uuid4(), limit, ONE, now=NOON)

    assert used() == 5
    [standing] = ledger.status(limit, now=NOON)
    assert standing.remaining == 0


def test_it_rolls_back_every_counter_when_one_hard_limit_refuses(db):
    client, user = bound(10), bound(1, subject="user:p_x")
    ledger.reserve(uuid.uuid4(), [client, user], ONE, now=NOON)

    with pytest.raises(ledger.QuotaExceeded) as refused:
        ledger.reserve(uuid.uuid4(), [client, user], ONE, now=NOON)

    assert "end user" in str(refused.value)
    assert used("client:1") == 1  # the client's increment was undone with the refusal
    assert used("user:p_x") == 1


def test_it_refuses_a_call_whose_estimate_exceeds_the_whole_limit(db):
    with pytest.raises(ledger.QuotaExceeded):
        ledger.reserve(uuid.uuid4(), [bound(50, "tokens", "day")], ONE, now=NOON)
    assert used(metric="tokens", period="day") == 0


def test_it_starts_a_new_window_at_the_minute_boundary(db):
    limit = [bound(1)]
    ledger.reserve(uuid.uuid4(), limit, ONE, now=NOON.replace(second=59, microsecond=999999))
    with pytest.raises(ledger.QuotaExceeded):
        ledger.reserve(uuid.uuid4(), limit, ONE, now=NOON.replace(second=0))

    ledger.reserve(uuid.uuid4(), limit, ONE, now=NOON.replace(minute=1, second=0))

    assert [s.used for s in ledger.status(limit, now=NOON)] == [1]
    assert [s.used for s in ledger.status(limit, now=NOON.replace(minute=1))] == [1]
    assert used() == 2


def test_it_settles_tokens_to_the_real_usage_once(db):
    gid = uuid.uuid4()
    limits = [bound(10), bound(1000, "tokens", "day")]
    ledger.reserve(gid, limits, {"requests": 1, "tokens": 300}, now=NOON)
    assert used(metric="tokens", period="day") == 300

    assert ledger.settle(gid, tokens=42) is True
    assert ledger.settle(gid, tokens=42) is False
    assert ledger.release(gid) is False

    assert used(metric="tokens", period="day") == 42
    assert used() == 1
    assert Reservation.objects.get().state == "settled"


def test_it_settles_in_the_window_the_call_was_admitted_in(db):
    gid = uuid.uuid4()
    limit = [bound(1000, "tokens", "minute")]
    ledger.reserve(gid, limit, {"tokens": 300}, now=NOON)

    ledger.settle(gid, tokens=10)  # the real clock is long past NOON's minute

    assert Counter.objects.get().used == 10
    assert Counter.objects.get().window_start == dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)


def test_it_keeps_the_estimate_when_the_engine_did_not_count(db):
    gid = uuid.uuid4()
    ledger.reserve(gid, [bound(1000, "tokens", "day")], {"tokens": 300}, now=NOON)

    ledger.settle(gid, tokens=None)

    assert used(metric="tokens", period="day") == 300


def test_it_releases_everything_a_failed_call_reserved(db):
    gid = uuid.uuid4()
    limits = [bound(1), bound(1000, "tokens", "day")]
    ledger.reserve(gid, limits, ONE, now=NOON)

    assert ledger.release(gid) is True
    assert ledger.release(gid) is False

    assert used() == 0 and used(metric="tokens", period="day") == 0
    ledger.reserve(uuid.uuid4(), limits, ONE, now=NOON)  # the slot is free again


def test_it_charges_a_redelivered_generation_once(db):
    gid = uuid.uuid4()
    limits = [bound(5), bound(1000, "tokens", "day")]
    ledger.reserve(gid, limits, ONE, now=NOON)

    again = ledger.reserve(gid, limits, ONE, now=NOON)

    assert used() == 1 and used(metric="tokens", period="day") == 100
    assert [s.used for s in again] == [1, 100]
    assert Reservation.objects.count() == 1


def test_it_reports_limits_usage_and_resets(db):
    limits = [bound(20), bound(1000, "tokens", "day")]
    ledger.reserve(uuid.uuid4(), limits, ONE, now=NOON)

    report = [s.as_dict() for s in ledger.status(limits, now=NOON)]

    assert report[0]["metric"] == "requests"
    assert (report[0]["limit"], report[0]["used"], report[0]["remaining"]) == (20, 1, 19)
    assert report[0]["resets_at"] == "2025-03-14T12:01:00+00:00"
    assert (report[1]["used"], report[1]["remaining"]) == (100, 900)
    assert report[1]["resets_at"] == "2025-03-15T00:00:00+00:00"
