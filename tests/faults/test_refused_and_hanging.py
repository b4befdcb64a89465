"""Cases 1 and 2: a primary that refuses connections, or accepts and never answers."""

from __future__ import annotations

import pytest

from fallbacks import breaker_control
from tests.faults.conftest import ask, outcomes

pytestmark = pytest.mark.engine


def test_it_serves_every_request_when_the_primary_refuses(db, primary_and_llama, proxy,
                                                          settings):
    settings.DIHYA_BREAKER_COOLDOWN = 600  # no probe during the run, however slow: exact counts
    proxy.set("refuse")

    generations = [ask() for _ in range(10)]

    assert all(g.status == "succeeded" and g.engine_name == "llama" for g in generations)
    tried = [o for g in generations for o in outcomes(g) if o[0] == "primary"]
    assert tried.count(("primary", "connect_error")) == 3
    assert tried.count(("primary", "circuit_open")) == 7
    state = {s["engine"]: s for s in breaker_control.snapshot()}["primary"]
    assert state["state"] == "open" and state["reason"] == "failures"
    assert "connect_error" in state["last_error"]


def test_only_the_first_requests_pay_a_hanging_primary(db, primary_and_llama, proxy, settings):
    settings.DIHYA_BREAKER_COOLDOWN = 600  # no probe during the run: the count is exact
    proxy.set("hang")

    generations = [ask() for _ in range(100)]

    assert all(g.status == "succeeded" and g.engine_name == "llama" for g in generations)
    primary = [o for g in generations for o in outcomes(g) if o[0] == "primary"]
    assert primary.count(("primary", "timeout")) == 3
    assert proxy.seen == 3
