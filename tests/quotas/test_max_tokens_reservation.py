"""What a coding agent's max_tokens does to token quotas: a call reserves its prompt estimate
plus its max_tokens while it runs (up to 128,000 for Claude Code), and is settled to what it used.
A tight token limit therefore admits fewer agent calls at once than it could serve; each call's
real use is what stays counted (docs/clients.md)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from dihya.gateway.models import ApiClient
from dihya.generation import pipeline
from dihya.generation.errors import Refusal
from dihya.generation.requests import ChatBody
from quotas.models import Assignment
from tests.quotas.conftest import usage

ENGINE = "http://engine.test/v1"
REPLY = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Done"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}


@pytest.fixture
def caller(make_engine, make_route, make_plan):
    make_route("default", make_engine(ENGINE, name="fake"))  # no ceiling of its own
    client = ApiClient.objects.create(name="agents")
    Assignment.objects.create(client=client, plan=make_plan("team", (40_000, "tokens", "day")))
    return pipeline.Caller(client=client)


def body(**extra) -> ChatBody:
    return ChatBody(model="default", messages=[{"role": "user", "content": "x" * 40}], **extra)


def tokens(client_id: int) -> int:
    return usage(f"client:{client_id}", "tokens", "day")


def test_an_agent_call_reserves_its_max_tokens_and_is_settled_to_its_use(caller):
    client_id = caller.client.pk
    with respx.mock:
        respx.post(f"{ENGINE}/chat/completions").mock(httpx.Response(200, json=REPLY))
        admission = pipeline.admit(caller, body(max_tokens=32_000))
        assert tokens(client_id) == 11 + 32_000  # ceil((4 + 40) / 4) + max_tokens, while it runs

        # A second agent call cannot reserve as much meanwhile: 64,022 > 40,000.
        with pytest.raises(Refusal) as refused:
            pipeline.admit(caller, body(max_tokens=32_000))
        assert refused.value.status == 429

        pipeline.record(admission, asyncio.run(pipeline.execute(admission)))
        assert tokens(client_id) == 10  # what the engine reported, not the reservation

        again = pipeline.admit(caller, body(max_tokens=32_000))  # room again
        pipeline.record(again, asyncio.run(pipeline.execute(again)))
    assert tokens(client_id) == 20


def test_a_call_without_max_tokens_reserves_the_default(caller):
    pipeline.admit(caller, body())
    assert tokens(caller.client.pk) == 11 + 4096
