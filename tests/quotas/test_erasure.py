"""A person's quota records go with them on erasure; retention spares live windows."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from dihya.privacy import erasure
from quotas import ledger, plans, tally
from quotas.models import Alert, Counter, Reservation
from tests.quotas.conftest import bound, usage


def test_it_exports_and_erases_the_counters_of_a_person(db):
    alice = get_user_model().objects.create_user("alice")
    mine = bound(5, subject=plans.user_subject("alice"), alerts=(20,))
    ledger.reserve(uuid.uuid4(), [mine, bound(5)], {"requests": 1})
    Alert.objects.create(subject=mine.subject, threshold=20, window_start=timezone.now(),
                         message="reached 20 %")

    exported = erasure.export(alice)["quotas"]
    assert [c["used"] for c in exported["counters"]] == [1]
    assert [a["message"] for a in exported["alerts"]] == ["reached 20 %"]

    receipt = erasure.erase(alice, by="test")

    assert receipt.counts["quotas"] == 2
    assert not Counter.objects.filter(subject=mine.subject).exists()
    assert usage("client:1") == 1  # the app's own count stays
    if settings.DIHYA_QUOTA_TALLY:  # and Redis keeps nothing of her
        assert not tally.kept([mine.subject])


def test_it_purges_old_windows_but_never_a_month_that_may_be_open(db):
    now = timezone.now()
    for days in (10, 40):
        Counter.objects.create(subject="client:1", metric="requests", period="month",
                               window_start=now - dt.timedelta(days=days))
    Reservation.objects.create(generation_id=uuid.uuid4(), created=now - dt.timedelta(days=40))

    erasure.purge_expired({"generation": 1, "audit": None})

    assert Counter.objects.count() == 1 and not Reservation.objects.exists()
