"""The runner tries engines in the strategy's order and keeps every failover guarantee."""

from __future__ import annotations

import httpx
import pytest
import respx

from dihya.lib import loop
from fallbacks import latency
from fallbacks.runner import RunFailed, Runner
from fallbacks.strategies.base import PER_TOKEN
from tests.strategies.helpers import engine, request, route

OK = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 1, "completion_tokens": 4}}


def url(engine_id: int) -> str:
    return f"http://127.0.0.1:{9000 + engine_id}/v1/chat/completions"


@respx.mock
def test_context_fit_skips_before_any_call():
    small = respx.post(url(1)).mock(return_value=httpx.Response(200, json=OK))
    big = respx.post(url(2)).mock(return_value=httpx.Response(200, json=OK))
    r = route("ordered", engine(1, "small", context_window=256), engine(2, "big"),
              context_fit=True)

    result = loop.run(Runner().run(r, request("word " * 400)))

    assert not small.called and big.called
    assert [(a.engine, a.outcome, a.position) for a in result.attempts] == [
        ("small", "context_too_long", 0), ("big", "ok", 1)]


@respx.mock
def test_a_failing_weighted_pick_falls_back_to_the_other():
    respx.post(url(1)).mock(return_value=httpx.Response(503, json={"error": "down"}))
    respx.post(url(2)).mock(return_value=httpx.Response(200, json=OK))
    r = route("weighted", engine(1, "a", weight=1000), engine(2, "b", weight=1))

    result = loop.run(Runner().run(r, request()))

    assert result.engine.name == "b"
    assert [a.outcome for a in result.attempts][-1] == "ok"
    assert result.attempts[0].engine == "a"


@respx.mock
def test_nothing_fits_is_a_failure_that_called_nobody():
    never = respx.post(url(1)).mock(return_value=httpx.Response(200, json=OK))
    r = route("ordered", engine(1, context_window=10), context_fit=True)

    with pytest.raises(RunFailed) as failed:
        loop.run(Runner().run(r, request("a long prompt " * 20)))

    assert not never.called
    assert [a.outcome for a in failed.value.attempts] == ["context_too_long"]


@respx.mock
def test_it_measures_latency_per_output_token():
    respx.post(url(1)).mock(return_value=httpx.Response(200, json=OK))

    loop.run(Runner().run(route("ordered", engine(1)), request()))

    avg = latency.board().average(1, PER_TOKEN)
    assert avg is not None and avg.samples == 1 and avg.value > 0
