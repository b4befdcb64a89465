"""Tool calls and the fields OpenAI's answer schema defines, through the official SDK.

The engine is a fake OpenAI-compatible server answering recorded bodies in the documented
format (platform.openai.com/docs/api-reference/chat/streaming): SmolLM2 under llama.cpp does
not emit tool calls reliably, and what is pinned here is Dihya's wire format, not a model's.
"""

from __future__ import annotations

import json

import openai
import pytest

from dihya.gateway.models import Generation
from tests.api.fake_engine import answer, fake_engine, sse  # noqa: F401 - a fixture
from tests.conftest import recorded

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}, "required": ["city"]}}}]
ASK = [{"role": "user", "content": "Weather in Paris?"}]
CALL = {"id": "call_Paris1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def chunk(delta: dict, finish_reason: str | None = None) -> dict:
    return {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


# Recorded in OpenAI's documented shape: id, type and name first, then argument pieces.
TOOL_STREAM = sse(
    chunk({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_Paris1", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    chunk({}, "tool_calls"),
    {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m",
     "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29}})


@pytest.fixture
def sdk(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake"))
    return openai.OpenAI(base_url=api + "/v1", api_key=make_key(), max_retries=0, timeout=30)


def test_it_answers_a_tool_call(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer(None, tool_calls=[CALL], finish_reason="tool_calls"))

    done = sdk.chat.completions.create(model="default", messages=ASK, tools=TOOLS)

    choice = done.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls[0].model_dump() == CALL
    assert done.system_fingerprint and choice.logprobs is None
    recorded()
    generation = Generation.objects.get()
    assert generation.tool_calls == [{"id": "call_Paris1", "name": "get_weather",
                                      "arguments": '{"city": "Paris"}'}]
    assert generation.finish_reason == "tool_calls"


def test_it_streams_tool_call_fragments_as_openai_does(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(TOOL_STREAM)

    chunks = list(sdk.chat.completions.create(model="default", messages=ASK, tools=TOOLS,
                                              stream=True))

    first = chunks[0].choices[0].delta
    assert first.role == "assistant" and first.content is None
    assert first.tool_calls[0].model_dump(exclude_none=True) == {
        "index": 0, "id": "call_Paris1", "type": "function",
        "function": {"name": "get_weather", "arguments": ""}}
    pieces = [c.choices[0].delta.tool_calls[0] for c in chunks[1:3]]
    assert [p.id for p in pieces] == [None, None]
    assert "".join(p.function.arguments for p in pieces) == '{"city": "Paris"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    recorded()
    generation = Generation.objects.get()
    assert generation.tool_calls[0]["arguments"] == '{"city": "Paris"}'
    assert generation.completion_tokens == 9


def test_the_sdk_stream_helper_assembles_the_call(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(TOOL_STREAM)

    with sdk.chat.completions.stream(model="default", messages=ASK, tools=TOOLS) as stream:
        final = stream.get_final_completion()

    call = final.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name) == ("call_Paris1", "get_weather")
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_the_tool_result_turn_reaches_the_engine(sdk, fake_engine):  # noqa: F811
    done = sdk.chat.completions.create(model="default", tools=TOOLS, messages=[
        *ASK, {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_Paris1", "content": '{"celsius": 21}'}])

    assert done.choices[0].message.content == "Hello"
    sent = fake_engine.requests[0]["messages"]
    assert sent[1]["tool_calls"] == [CALL] and sent[1]["content"] is None
    assert sent[2] == {"role": "tool", "tool_call_id": "call_Paris1",
                       "content": '{"celsius": 21}'}


def test_it_relays_reasoning_and_maps_finish_reasons(sdk, fake_engine):  # noqa: F811
    body = answer("Paris.", finish_reason="model_length")
    body["choices"][0]["message"]["reasoning_content"] = "The user asks about Paris."
    fake_engine.reply(body)
    fake_engine.reply(sse(chunk({"role": "assistant", "reasoning_content": "Hmm."}),
                          chunk({"content": "Paris."}), chunk({}, "stop")))

    done = sdk.chat.completions.create(model="default", messages=ASK)
    chunks = list(sdk.chat.completions.create(model="default", messages=ASK, stream=True))

    assert done.choices[0].finish_reason == "length"
    assert done.choices[0].message.model_extra["reasoning_content"] == (
        "The user asks about Paris.")
    assert chunks[0].choices[0].delta.model_extra["reasoning_content"] == "Hmm."
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Paris."


def test_legacy_functions_answer_with_function_call(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer(None, tool_calls=[CALL], finish_reason="tool_calls"))

    done = sdk.chat.completions.create(model="default", messages=ASK,
                                       functions=[TOOLS[0]["function"]])

    assert fake_engine.requests[0]["tools"] == TOOLS
    assert done.choices[0].finish_reason == "function_call"
    assert done.choices[0].message.function_call.name == "get_weather"
