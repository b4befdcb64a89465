"""A stream the client drops, or the engine cuts, after its answer began is paid for.

Once the first content has gone out the call counts: one request and the tokens relayed so
far (the engine's count if it gave one, else characters / 4, as quota estimates are made)
are charged; only a call that sent nothing gives its reservation back. And a client going
away is an ordinary end: nothing in the logs says a generator failed to close.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import httpx
import pytest

from dihya.gateway.models import ApiClient, Generation
from dihya.generation import pipeline
from dihya.generation.requests import ChatBody
from quotas.models import Assignment, Counter, Limit, Plan, Reservation
from tests.api.slow_engine import SlowEngine, slow_engine  # noqa: F401 - a fixture
from tests.conftest import recorded, wait_until

LIMIT = 3


@pytest.fixture
def key(api, make_engine, make_route, make_key, slow_engine: SlowEngine) -> str:  # noqa: F811
    make_route("default", make_engine(slow_engine.url, name="slow"), max_tokens=40)
    key = make_key()
    plan = Plan.objects.create(name="tight")
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=LIMIT, hard=True)
    Limit.objects.create(plan=plan, metric="tokens", period="day", amount=10_000, hard=True)
    Assignment.objects.create(plan=plan, client=ApiClient.objects.get(name="app"))
    return key


def read_first_content_and_drop(api: str, key: str) -> str:
    """Stream, read the first content delta, close the connection."""
    with httpx.Client(timeout=30) as http, http.stream(
            "POST", api + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
            json={"model": "default", "stream": True, "max_tokens": 40,
                  "messages": [{"role": "user", "content": "Tell me a story"}]}) as answer:
        assert answer.status_code == 200, answer.read()
        for line in answer.iter_lines():
            if '"content"' in line:
                return answer.headers["X-Dihya-Generation"]
    raise AssertionError("no content came")


def used(metric: str) -> int:
    return sum(Counter.objects.filter(metric=metric).values_list("used", flat=True))


def ended(gid: str) -> Generation:
    wait_until(lambda: Generation.objects.get(pk=gid).status != "running", timeout=15,
               what="the end of the generation")
    return Generation.objects.get(pk=gid)


@pytest.mark.parametrize("recording", ["inline", "batched"])
def test_it_charges_streams_dropped_after_the_first_delta_and_refuses_past_the_limit(
        api, key, slow_engine: SlowEngine, settings, recording):  # noqa: F811
    settings.DIHYA_RECORDER = recording
    dropped = [read_first_content_and_drop(api, key) for _ in range(LIMIT)]

    for gid in dropped:
        g = ended(gid)
        assert (g.status, g.error_code) == ("failed", "client_disconnected")
        assert g.completion_tokens >= 1 and g.prompt_tokens >= 1
        assert g.engine_name == "slow"
        assert Reservation.objects.get(generation_id=gid).state == "settled"
    assert used("requests") == LIMIT
    assert used("tokens") == sum(Generation.objects.filter(pk__in=dropped).values_list(
        "completion_tokens", flat=True)) + sum(Generation.objects.filter(
            pk__in=dropped).values_list("prompt_tokens", flat=True))

    refused = httpx.post(api + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                         timeout=30, json={"model": "default", "stream": True, "max_tokens": 40,
                                           "messages": [{"role": "user", "content": "Again"}]})
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "quota_exceeded"


def test_a_client_disconnect_closes_the_engine_stream_cleanly(
        api, key, slow_engine: SlowEngine, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    gid = read_first_content_and_drop(api, key)
    ended(gid)

    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "athrow" not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], logged


def test_a_dropped_stream_finalised_in_any_order_logs_no_error(
        api, key, slow_engine: SlowEngine, caplog):  # noqa: F811
    """The server drops a gone client's response; the garbage collector then finalises its
    async generators in an order of its own — here the innermost first, the order that made
    `open_stream` log "generator didn't stop after athrow()" at every disconnect."""
    caplog.set_level(logging.DEBUG)
    caller = pipeline.Caller(client=ApiClient.objects.get(name="app"))
    admission = pipeline.admit(caller, ChatBody(
        model="default", stream=True, messages=[{"role": "user", "content": "Tell me"}]))
    failures: list[BaseException] = []

    async def drop() -> None:
        generators: list[Any] = []
        hooks = sys.get_asyncgen_hooks()

        def first_iteration(generator: Any) -> None:
            generators.append(generator)
            if hooks.firstiter is not None:
                hooks.firstiter(generator)

        sys.set_asyncgen_hooks(firstiter=first_iteration, finalizer=hooks.finalizer)
        try:  # the engine's stream, and what it holds, begin here
            streaming = await pipeline.stream(admission)
        finally:
            sys.set_asyncgen_hooks(*hooks)
        assert (await anext(streaming.deltas)).text
        await anext(streaming.deltas)
        for generator in [*reversed(generators), streaming.deltas]:
            try:
                await generator.aclose()  # type: ignore[attr-defined]
            except BaseException as exc:  # what the finalizer would log
                failures.append(exc)

    asyncio.run(drop())

    assert failures == []
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "athrow" not in logged
    recorded()
    g = Generation.objects.get(pk=admission.generation.pk)
    assert (g.status, g.error_code) == ("failed", "client_disconnected")


def test_it_charges_a_stream_the_engine_cut_after_its_answer_began(
        api, key, slow_engine: SlowEngine):  # noqa: F811
    slow_engine.die = True
    slow_engine.pause = 0.0
    answer = httpx.post(api + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                        timeout=30, json={"model": "default", "stream": True, "max_tokens": 40,
                                          "messages": [{"role": "user", "content": "Go"}]})
    assert "engine_failed_mid_stream" in answer.text
    g = ended(answer.headers["X-Dihya-Generation"])
    assert (g.status, g.error_code) == ("failed", "engine_failed_mid_stream")
    assert Reservation.objects.get(generation_id=g.pk).state == "settled"
    assert used("requests") == 1
    # The words relayed, ~ characters / 4 (the engine gave no count before it died).
    assert g.completion_tokens == -(-len("".join(slow_engine.words)) // 4)
    assert used("tokens") == g.prompt_tokens + g.completion_tokens
