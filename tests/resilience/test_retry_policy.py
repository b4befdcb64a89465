"""The retry policy by failure class, and the attempt budget across retries x fallbacks."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from dihya.lib import loop
from fallbacks.errors import Failure
from fallbacks.policy import Action, RetryPolicy
from fallbacks.runner import RunFailed, Runner
from fallbacks.spec import ChatRequest, EngineSpec, Message, RouteSpec

OK = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
REQUEST = ChatRequest(messages=(Message("user", "hi"),), max_tokens=4)


def route(*names: str, **policy) -> RouteSpec:
    engines = tuple(EngineSpec(id=i + 1, name=n, provider="openai", base_url=f"http://{n}/v1",
                               model="m") for i, n in enumerate(names))
    return RouteSpec(id=1, name="r", strategy="ordered", max_tokens=4, engines=engines,
                     policy=RetryPolicy(retry_backoff=0.001, **policy))


def run(r: RouteSpec):
    return loop.run(Runner().run(r, REQUEST))  # not asyncio.run: a browser test may hold a loop


def test_it_moves_on_at_once_from_refused_timeout_and_quota():
    policy = RetryPolicy()
    for failure in (Failure.CONNECT, Failure.TIMEOUT, Failure.RATE_LIMITED, Failure.QUOTA,
                    Failure.CONTEXT_TOO_LONG):
        assert policy.action(failure, 0) is Action.NEXT


def test_it_retries_5xx_r_times_then_moves_on():
    policy = RetryPolicy(server_retries=2)
    assert [policy.action(Failure.SERVER, n) for n in range(3)] == [
        Action.RETRY, Action.RETRY, Action.NEXT]


def test_backoff_is_jittered_and_grows():
    policy = RetryPolicy(retry_backoff=0.1)
    assert all(0.05 <= policy.backoff(0) <= 0.1 for _ in range(50))
    assert all(0.2 <= policy.backoff(2) <= 0.4 for _ in range(50))


@respx.mock
def test_the_attempt_budget_caps_retries_times_fallbacks():
    calls = [respx.post(f"http://{n}/v1/chat/completions").mock(
        return_value=httpx.Response(500, json={"error": "boom"})) for n in ("a", "b", "c")]

    with pytest.raises(RunFailed) as failed:
        run(route("a", "b", "c", server_retries=3, max_attempts=5))

    assert failed.value.code == "attempt_budget_exhausted"
    assert sum(c.call_count for c in calls) == 5
    assert [c.call_count for c in calls] == [4, 1, 0]


@respx.mock
def test_a_bad_request_stops_without_fallback():
    respx.post("http://a/v1/chat/completions").mock(
        return_value=httpx.Response(400, json={"error": {"message": "bad role"}}))
    second = respx.post("http://b/v1/chat/completions").mock(return_value=httpx.Response(200,
                                                                                         json=OK))
    with pytest.raises(RunFailed) as failed:
        run(route("a", "b"))

    assert failed.value.code == "engine_rejected_request"
    assert not second.called


@respx.mock
def test_context_too_long_goes_on_to_the_next_engine():
    respx.post("http://small/v1/chat/completions").mock(return_value=httpx.Response(
        400, json={"error": {"message": "the request exceeds the available context size"}}))
    respx.post("http://large/v1/chat/completions").mock(return_value=httpx.Response(200,
                                                                                    json=OK))
    result = run(route("small", "large"))

    assert result.engine.name == "large"
    assert [a.outcome for a in result.attempts] == ["context_too_long", "ok"]


@respx.mock
def test_a_500_then_success_is_retried_on_the_same_engine():
    respx.post("http://a/v1/chat/completions").mock(side_effect=[
        httpx.Response(503, json={"error": "busy"}), httpx.Response(200, json=OK)])

    result = run(route("a", "b"))

    assert result.engine.name == "a"
    assert [a.outcome for a in result.attempts] == ["server_error", "ok"]


@respx.mock
def test_no_attempt_outlives_the_deadline():
    async def slow(request):
        await asyncio.sleep(5)
        return httpx.Response(200, json=OK)

    respx.post("http://a/v1/chat/completions").mock(side_effect=slow)
    respx.post("http://b/v1/chat/completions").mock(side_effect=slow)

    with pytest.raises(RunFailed) as failed:
        run(route("a", "b", deadline=0.2))

    assert failed.value.code == "deadline_exceeded"
    assert [a.outcome for a in failed.value.attempts] == ["timeout"]


@respx.mock
def test_a_stream_slower_than_its_first_token_limit_falls_back():
    async def slow(request):
        await asyncio.sleep(5)
        return httpx.Response(200, text="data: [DONE]\n\n")

    respx.post("http://a/v1/chat/completions").mock(side_effect=slow)
    respx.post("http://b/v1/chat/completions").mock(return_value=httpx.Response(
        200, text='data: {"choices": [{"delta": {"content": "hi"}}]}\n\ndata: [DONE]\n\n',
        headers={"content-type": "text/event-stream"}))

    run = loop.run(Runner().start_stream(route("a", "b", first_token_timeout=0.1), REQUEST))

    assert run.engine.name == "b" and run.first.text == "hi"
    assert [a.outcome for a in run.attempts] == ["timeout", "ok"]
