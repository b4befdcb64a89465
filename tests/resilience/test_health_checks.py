"""Scheduled probes feed the breaker and "last seen up"."""

from __future__ import annotations

import pytest
from django.utils import timezone

from fallbacks import breaker_control, health_checks
from fallbacks.models import BreakerState, Engine

pytestmark = pytest.mark.engine


def test_probes_mark_up_engines_and_count_failures(db, llama, dead_url, make_engine, settings):
    settings.DIHYA_BREAKER_FAILURES = 2
    up = make_engine(llama, name="up")
    down = make_engine(dead_url, name="down")

    report = health_checks.check_all()
    health_checks.check_all()

    assert report["up"] == "up" and report["down"].startswith("connect_error")
    assert Engine.objects.get(pk=up.pk).last_seen_up is not None
    assert Engine.objects.get(pk=down.pk).last_seen_up is None
    assert BreakerState.objects.get(engine=down).state == "open"


def test_a_probe_that_succeeds_after_the_cooldown_closes_the_breaker(db, llama, make_engine):
    engine = make_engine(llama, name="back")
    BreakerState.objects.create(engine=engine, state="open", reason="failures", failures=3,
                                since=timezone.now(), until=timezone.now())
    health_checks.check_all()

    assert BreakerState.objects.get(engine=engine).state == "closed"
    assert {s["engine"]: s for s in breaker_control.snapshot()}["back"]["last_seen_up"]
