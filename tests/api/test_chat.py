"""The official openai SDK against a live Dihya and a real llama.cpp engine."""

from __future__ import annotations

import asyncio

import openai
import pytest

from dihya.gateway.models import Generation
from tests.conftest import recorded

pytestmark = pytest.mark.engine


@pytest.fixture
def route(llama, dead_url, make_engine, make_route):
    return make_route("default", make_engine(llama, name="llama"), max_tokens=64)


def client(api: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=api + "/v1", api_key=key, max_retries=0, timeout=60)


def aclient(api: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=api + "/v1", api_key=key, max_retries=0, timeout=120)


HELLO = [{"role": "user", "content": "Say hello"}]


def test_it_answers_the_sync_sdk(api, route, make_key):
    raw = client(api, make_key()).chat.completions.with_raw_response.create(
        model="default", messages=HELLO, max_tokens=16)
    answer = raw.parse()

    assert answer.choices[0].message.content.strip()
    assert answer.model == "default"
    assert answer.usage.completion_tokens > 0
    recorded()
    generation = Generation.objects.get(pk=raw.headers["X-Dihya-Generation"])
    assert answer.id == "chatcmpl-" + generation.pk.hex
    assert generation.status == "succeeded" and generation.source == "chat"
    assert generation.client.name == "app"
    assert raw.headers["X-Dihya-Engine"] == "llama"


def test_it_streams_to_the_sync_sdk(api, route, make_key):
    stream = client(api, make_key()).chat.completions.create(
        model="default", messages=HELLO, max_tokens=16, stream=True)
    chunks = list(stream)

    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks).strip()
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    recorded()
    generation = Generation.objects.get()
    assert generation.status == "succeeded" and generation.stream


def test_it_answers_and_streams_to_the_async_sdk(api, route, make_key):
    asyncio.run(answer_and_stream(aclient(api, make_key())))


async def answer_and_stream(sdk: openai.AsyncOpenAI) -> None:

    answer = await sdk.chat.completions.create(model="default", messages=HELLO, max_tokens=8)
    assert answer.choices[0].message.content.strip()

    async with sdk.chat.completions.with_streaming_response.create(
            model="default", messages=HELLO, max_tokens=8, stream=True,
            stream_options={"include_usage": True}) as response:
        assert response.headers["X-Dihya-Engine"] == "llama"
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = [chunk async for chunk in await response.parse()]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_it_lists_the_routes_the_key_may_use(api, route, make_route, make_key):
    make_route("secret")
    make_route("other")

    models = client(api, make_key(routes=["default", "other"])).models.list()

    assert [m.id for m in models.data] == ["default", "other"]
    assert {m.owned_by for m in models.data} == {"dihya"}


def test_it_falls_back_when_the_first_engine_is_dead(api, llama, dead_url, make_engine,
                                                       make_route, make_key):
    make_route("default", make_engine(dead_url, name="dead"), make_engine(llama, name="llama"))
    sdk = client(api, make_key())

    raw = sdk.chat.completions.with_raw_response.create(model="default", messages=HELLO,
                                                       max_tokens=8)
    with sdk.chat.completions.with_streaming_response.create(
            model="default", messages=HELLO, max_tokens=8, stream=True) as streamed:
        assert streamed.headers["X-Dihya-Engine"] == "llama"
        assert "".join(c.choices[0].delta.content or "" for c in streamed.parse()).strip()

    assert raw.headers["X-Dihya-Engine"] == "llama"
    recorded()
    generation = Generation.objects.get(pk=raw.headers["X-Dihya-Generation"])
    assert [(a.engine_name, a.outcome) for a in generation.attempts.all()] == [
        ("dead", "connect_error"), ("llama", "ok")]


def test_it_serves_50_concurrent_streams(api, llama, make_engine, make_route, make_key):
    # llama.cpp serves 4 at a time and the machine is shared: the last of the 50 may wait long
    # for its first token, which is llama's queue, not ours.
    make_route("default", make_engine(llama, name="llama", read_timeout=120), max_tokens=64)
    sdk = aclient(api, make_key())

    async def one(i: int) -> tuple[str, int]:
        stream = await sdk.chat.completions.create(
            model="default", messages=[{"role": "user", "content": f"Count to {i % 5 + 2}"}],
            max_tokens=4, stream=True)
        chunks = [chunk async for chunk in stream]
        return "".join(c.choices[0].delta.content or "" for c in chunks), len(chunks)

    async def all_of_them() -> list[tuple[str, int]]:
        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(50))), 240)

    results = asyncio.run(all_of_them())

    assert len(results) == 50
    assert all(text.strip() and n >= 2 for text, n in results)
    recorded()
    statuses = list(Generation.objects.values_list("status", flat=True))
    assert statuses == ["succeeded"] * 50
