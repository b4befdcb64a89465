"""Engines' batch shares: a batch line holds one of `Engine.batch_share` tickets besides its
slot, so batches never take the slots of an engine that its share leaves to live calls."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx
from asgiref.sync import async_to_sync

from fallbacks import catalog, slots
from fallbacks.models import EngineSlot
from fallbacks.runner import BATCH_SHARE_FULL, RunFailed, Runner
from fallbacks.spec import ChatRequest, EngineSpec, Message

ENGINE = "http://engine.test/v1"
REPLY = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}


def acquire(engine: EngineSpec, batch: bool) -> slots.Slot | None:
    return async_to_sync(slots.acquire)(engine, batch=batch)


def test_batch_lines_stop_at_the_share_and_live_calls_keep_the_other_slots(db, make_engine,
                                                                           dead_url):
    engine = catalog.engine_spec(make_engine(dead_url, max_concurrency=3, batch_share=1))
    line = acquire(engine, batch=True)

    assert acquire(engine, batch=True) is slots.SHARE_FULL
    live = [acquire(engine, batch=False), acquire(engine, batch=False)]
    assert all(isinstance(s, slots.Lease) for s in live)
    assert acquire(engine, batch=False) is None  # the cap holds every request
    assert slots.in_use(engine.id) == 3  # slots, not tickets
    assert slots.in_use_by_engine([engine.id], tickets=True) == {engine.id: 1}

    async_to_sync(line.release)()
    assert slots.in_use_by_engine([engine.id], tickets=True) == {}
    assert isinstance(acquire(engine, batch=True), slots.Lease)


def test_a_share_holds_on_an_engine_without_a_cap(db, make_engine, dead_url):
    engine = catalog.engine_spec(make_engine(dead_url, batch_share=2))
    held = [acquire(engine, batch=True), acquire(engine, batch=True)]

    assert acquire(engine, batch=True) is slots.SHARE_FULL
    assert acquire(engine, batch=False) is slots.NOOP
    for lease in held:
        async_to_sync(lease.release)()
    assert not EngineSlot.objects.exclude(holder="").exists()


def test_a_share_of_zero_keeps_batch_lines_off_the_engine(db, make_engine, dead_url):
    engine = catalog.engine_spec(make_engine(dead_url, batch_share=0))

    assert acquire(engine, batch=True) is slots.SHARE_FULL
    assert not slots.batch_room([engine])


def test_a_counted_engines_ticket_and_count_are_both_given_back(db, make_engine, dead_url):
    from dataclasses import replace

    engine = replace(catalog.engine_spec(make_engine(dead_url, batch_share=1)), counted=True)
    lease = acquire(engine, batch=True)
    assert EngineSlot.objects.exclude(holder="").count() == 2  # its count and its ticket

    async_to_sync(lease.release)()

    assert not EngineSlot.objects.exclude(holder="").exists()
    assert not EngineSlot.objects.filter(number__lt=slots.TICKETS).exists()


def test_a_ticket_is_given_back_when_no_slot_was_free(db, make_engine, dead_url):
    engine = catalog.engine_spec(make_engine(dead_url, max_concurrency=1, batch_share=1))
    assert acquire(engine, batch=False)

    assert acquire(engine, batch=True) is None

    assert slots.in_use_by_engine([engine.id], tickets=True) == {}


def request() -> ChatRequest:
    return ChatRequest(messages=(Message(role="user", content="hi"),), max_tokens=10)


@pytest.fixture
def engines(make_engine):
    full = make_engine(ENGINE, name="full", batch_share=0)
    spare = make_engine(ENGINE.replace("engine", "spare"), name="spare")
    return full, spare


def test_a_batch_line_falls_back_past_an_engine_at_its_share(engines, make_route):
    route = catalog.route_spec(make_route("two", *engines).name)
    with respx.mock:
        respx.post(f"{ENGINE}/chat/completions").mock(httpx.Response(200, json=REPLY))
        spare = respx.post("http://spare.test/v1/chat/completions").mock(
            httpx.Response(200, json=REPLY))
        served = asyncio.run(Runner().run(route, request(), batch=True))
        live = asyncio.run(Runner().run(route, request()))

    assert served.engine.name == "spare" and spare.call_count == 1
    assert [(a.engine, a.outcome) for a in served.attempts] == [("full", BATCH_SHARE_FULL),
                                                                ("spare", "ok")]
    assert live.engine.name == "full"


def test_a_batch_line_with_every_engine_at_its_share_fails_so(engines, make_route):
    route = catalog.route_spec(make_route("one", engines[0]).name)

    with respx.mock(assert_all_called=False), pytest.raises(RunFailed) as failed:
        asyncio.run(Runner().run(route, request(), batch=True))

    assert failed.value.code == BATCH_SHARE_FULL
    assert [a.outcome for a in failed.value.attempts] == [BATCH_SHARE_FULL]
