"""Strategies over real llama.cpp engines, through the whole pipeline.

Every engine here is the session's llama.cpp server behind a fault proxy of its own: to the
gateway they are separate engines (their own breakers, slots, latencies), and the proxy can
kill or slow one of them. One real server keeps the suite fast on a 2-core machine; the
strategies only ever see the gateway's side.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from asgiref.sync import async_to_sync, sync_to_async

from dihya.gateway.models import Generation
from dihya.generation import pipeline
from dihya.generation.requests import ChatBody
from fallbacks.models import Route, RouteEngine
from fallbacks.strategies import base
from tests.faults.conftest import ask, outcomes
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def warm_llama(llama) -> str:
    """The server's first answer is slow (a cold start): not a latency to rank engines by."""
    httpx.post(llama + "/chat/completions", timeout=120, json={
        "model": "m", "max_tokens": 4, "messages": [{"role": "user", "content": "Say hi"}]})
    return llama


@pytest.fixture
def proxies(warm_llama) -> Iterator[list[FaultProxy]]:
    ps = [FaultProxy(warm_llama) for _ in range(3)]
    yield ps
    for p in ps:
        p.close()


@pytest.fixture(autouse=True)
def seeded(monkeypatch):
    monkeypatch.setattr(base, "_rng", random.Random(16))


@pytest.fixture(autouse=True)
def quick_state(settings):
    settings.DIHYA_BREAKER_FAILURES = 3
    settings.DIHYA_BREAKER_COOLDOWN = 600.0
    settings.DIHYA_BREAKER_REFRESH = 0.0
    settings.DIHYA_LOAD_REFRESH = 0.0
    settings.DIHYA_LATENCY_REFRESH = 0.0


def routed(make_engine, strategy: str, proxies: list[FaultProxy], weights=(1, 1),
           **fields) -> Route:
    route = Route.objects.create(name="r", strategy=strategy, max_tokens=4, **fields)
    for position, (proxy, weight) in enumerate(zip(proxies, weights, strict=False)):
        engine = make_engine(proxy.url, name="abc"[position], connect_timeout=0.5,
                             total_timeout=60)
        RouteEngine.objects.create(route=route, engine=engine, position=position,
                                   weight=weight)
    return route


def served(generations: list[Generation]) -> Counter[str]:
    assert [g.status for g in generations] == ["succeeded"] * len(generations), [
        (g.error_code, g.error_message) for g in generations if g.status != "succeeded"]
    return Counter(g.engine_name for g in generations)


def test_weighted_splits_real_traffic_and_fails_nothing(db, make_engine, proxies):
    routed(make_engine, "weighted", proxies[:2], weights=(3, 1))

    split = served([ask() for _ in range(20)])

    # 3:1 with seeded draws; the split itself is measured on 40,000 draws in test_weighted.
    assert split["a"] + split["b"] == 20
    assert split["a"] >= 11 and split["b"] >= 2, split


def test_a_killed_engines_share_moves_to_the_others(db, make_engine, proxies):
    routed(make_engine, "weighted", proxies, weights=(1, 1, 1))
    served([ask() for _ in range(3)])
    proxies[0].set("refuse")

    generations = [ask() for _ in range(15)]

    split = served(generations)  # not one failed request
    assert split["a"] == 0 and split["b"] >= 3 and split["c"] >= 3, split
    refused = [o for g in generations for o in outcomes(g) if o == ("a", "connect_error")]
    assert len(refused) <= 3  # then a's breaker is open and it is out of the draw


def admit(body: ChatBody) -> pipeline.Admission:
    return pipeline.admit(pipeline.Caller(client=None), body)


def test_least_busy_sends_to_the_idle_engine_while_the_other_streams(db, make_engine,
                                                                      proxies):
    routed(make_engine, "least_busy", proxies[:2])
    long_stream = ChatBody(model="r", stream=True, max_tokens=4,
                           messages=[{"role": "user", "content": "Tell a long story"}])
    short = ChatBody(model="r", max_tokens=4, messages=[{"role": "user", "content": "Say hi"}])

    async def scenario() -> tuple[str, list[str], str]:
        streaming = await pipeline.stream(await sync_to_async(admit)(long_stream))
        meanwhile = [(await pipeline.complete(await sync_to_async(admit)(short))).engine.name
                     for _ in range(4)]
        async for _ in streaming.deltas:
            pass
        after = (await pipeline.complete(await sync_to_async(admit)(short))).engine.name
        return streaming.engine, meanwhile, after

    streamed_on, meanwhile, after = async_to_sync(scenario)()

    assert streamed_on == "a"             # both idle: the route's order
    assert meanwhile == ["b"] * 4         # a is busy with the stream
    assert after == "a"                   # the stream ended: idle again, ties by order


def streamed() -> str:
    """One streamed generation through the pipeline, read to the end: the engine's name."""
    body = ChatBody(model="r", stream=True, max_tokens=4,
                    messages=[{"role": "user", "content": "Say hi"}])

    async def run() -> str:
        streaming = await pipeline.stream(await sync_to_async(admit)(body))
        async for _ in streaming.deltas:
            pass
        return streaming.engine

    return async_to_sync(run)()


def test_lowest_latency_leaves_a_slow_engine_and_comes_back(db, make_engine, proxies,
                                                            settings):
    # The last answer decides (alpha 1) and delays are seconds: clear moves in few calls,
    # even on a busy CI machine where an answer's own time varies by a second or more.
    settings.DIHYA_LATENCY_ALPHA = 1.0
    settings.DIHYA_LATENCY_EXPLORE = 0.0
    routed(make_engine, "lowest_latency", proxies[:2])  # streams: by time to first token
    proxies[1].set("slow", delay=2.5)     # b: always slower than a healthy a
    assert [streamed() for _ in range(2)] == ["a", "b"]  # never measured: measured first

    proxies[0].set("slow", delay=6.0)     # a slows down: one slow answer moves traffic away
    slowed = [streamed() for _ in range(3)]
    assert slowed.count("a") <= 1 and slowed[-1] == "b", slowed

    proxies[0].set("pass")                # a recovers; exploration measures it again
    settings.DIHYA_LATENCY_EXPLORE = 0.5
    after = [streamed() for _ in range(5)]
    assert after.count("a") >= 2 and "a" in after[-2:], after
    assert Generation.objects.filter(status="succeeded").count() == 10


def test_context_fit_skips_the_small_engine_for_a_long_prompt(db, make_engine, proxies):
    route = routed(make_engine, "ordered", proxies[:2], context_fit=True)
    small = route.steps.get(position=0).engine
    small.context_window = 48
    small.save()

    generation = ask(prompt="Summarise: " + "the quick brown fox jumps over the dog. " * 6)

    assert generation.status == "succeeded" and generation.engine_name == "b", (
        generation.error_message)
    assert outcomes(generation) == [("a", "context_too_long"), ("b", "ok")]
    assert proxies[0].seen == 0
    assert ask().engine_name == "a"  # a short prompt still fits the small engine
