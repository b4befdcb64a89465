"""Tools, structured output, images and reasoning in each provider's own wire format, both ways.

Bodies are the documented shapes (fixtures/); a conversation begun on one engine must read
right on the next, whatever ids the first one made.
"""

from __future__ import annotations

import json

from fallbacks.errors import Failure
from fallbacks.providers.mistral import mistral_id
from fallbacks.spec import (
    ChatRequest,
    Message,
    Part,
    ResponseFormat,
    Tool,
    ToolCall,
)
from tests.providers.fakes import Fake, answer, collect, complete, failure_of, fixture, streamed

WEATHER = Tool("get_weather", "The weather", {"type": "object", "properties": {
    "city": {"type": "string"}}})
OLLAMA_CALL_ID = "call_0f3a9c2b7d1e4a5b8c9d0e1f"  # what we made up for an Ollama call
CONVERSATION = (
    Message("user", "Weather in Paris?"),
    Message("assistant", "", tool_calls=(ToolCall(OLLAMA_CALL_ID, "get_weather",
                                                  '{"city": "Paris"}'),)),
    Message("tool", '{"celsius": 21}', tool_call_id=OLLAMA_CALL_ID),
)
PIXEL = "data:image/png;base64,iVBORw0KGgo="


def request(**fields) -> ChatRequest:
    return ChatRequest(**{"messages": CONVERSATION, "max_tokens": 16, "tools": (WEATHER,),
                          **fields})


# --- OpenAI-compatible ------------------------------------------------------------------------
def test_openai_streams_tool_fragments_and_the_first_one_is_output():
    fake = Fake(streamed([fixture("openai_tool_stream.sse").encode()]))
    deltas = collect(fake.provider("openai"), request())

    first = deltas[0]
    assert first.output and first.tool_calls[0].id == "call_DdmO9pD3xa9XTPNJ32zg2hcA"
    assert first.tool_calls[0].name == "get_weather"
    assert "".join(f.arguments for d in deltas for f in d.tool_calls) == '{"location":"Paris"}'
    assert deltas[-2].finish_reason == "tool_calls" and deltas[-1].usage.completion_tokens == 9


def test_openai_sends_named_tool_choice_and_json_schema():
    fake = Fake(answer(200, fixture("openai_completion.json")))
    complete(fake.provider("openai"), request(
        tool_choice="function", tool_name="get_weather",
        response_format=ResponseFormat("json_schema", "w", {"type": "object"}, True)))

    assert fake.body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert fake.body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "w", "schema": {"type": "object"}, "strict": True}}
    assert fake.body["messages"][2]["tool_call_id"] == OLLAMA_CALL_ID


# --- Ollama native ------------------------------------------------------------------------------
def test_ollama_gets_object_arguments_tool_names_format_images_and_think():
    fake = Fake(answer(200, fixture("ollama_chat.json")))
    messages = (Message("user", "What is this?", parts=(Part("image_url", url=PIXEL),)),
                *CONVERSATION)
    complete(fake.provider("ollama"), request(
        messages=messages, reasoning_effort="high",
        response_format=ResponseFormat("json_schema", "w", {"type": "object"})))

    sent = fake.body
    assert sent["messages"][0]["images"] == ["iVBORw0KGgo="]
    assert sent["messages"][2]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert sent["messages"][3] == {"role": "tool", "content": '{"celsius": 21}',
                                   "tool_name": "get_weather"}
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["format"] == {"type": "object"} and sent["think"] == "high"


def test_ollama_json_object_is_format_json():
    fake = Fake(answer(200, fixture("ollama_chat.json")))
    complete(fake.provider("ollama"), ChatRequest(messages=(Message("user", "hi"),),
                                                  max_tokens=4,
                                                  response_format=ResponseFormat("json_object")))
    assert fake.body["format"] == "json"


def test_ollama_tool_calls_come_back_with_openai_ids_and_finish_reason():
    done = complete(Fake(answer(200, fixture("ollama_tool_call.json"))).provider("ollama"),
                    request())

    call = done.tool_calls[0]
    assert call.id.startswith("call_") and call.name == "get_current_weather"
    assert json.loads(call.arguments) == {"format": "celsius", "location": "Paris, FR"}
    assert done.finish_reason == "tool_calls"


def test_ollama_streams_thinking_first():
    deltas = collect(Fake(streamed([fixture("ollama_thinking_stream.ndjson").encode()],
                                   content_type="application/x-ndjson")).provider("ollama"))
    assert deltas[0].reasoning == "The user" and deltas[0].output and not deltas[0].text
    assert "".join(d.text for d in deltas) == "Hi"


def test_ollama_cannot_do_a_forced_tool_choice_or_an_image_url():
    provider = Fake(answer(200, fixture("ollama_chat.json"))).provider("ollama")
    forced = failure_of(lambda: complete(provider, request(tool_choice="required")))
    remote = failure_of(lambda: complete(provider, ChatRequest(messages=(Message(
        "user", "?", parts=(Part("image_url", url="https://example.com/a.png"),)),),
        max_tokens=4)))
    assert forced.failure == remote.failure == Failure.UNSUPPORTED


# --- Mistral ------------------------------------------------------------------------------------
def test_mistral_says_any_for_required_and_gets_nine_character_ids():
    fake = Fake(answer(200, fixture("mistral_completion.json")))
    complete(fake.provider("mistral"), request(tool_choice="required"))

    sent = fake.body
    assert sent["tool_choice"] == "any"
    mapped = sent["messages"][1]["tool_calls"][0]["id"]
    assert len(mapped) == 9 and mapped.isalnum()
    assert sent["messages"][2]["tool_call_id"] == mapped == mistral_id(OLLAMA_CALL_ID)
    assert mistral_id("D681PevKs") == "D681PevKs"  # its own ids go back unchanged


def test_mistral_tool_call_answer_and_model_length():
    done = complete(Fake(answer(200, fixture("mistral_tool_call.json"))).provider("mistral"),
                    request())
    assert done.tool_calls[0].id == "D681PevKs" and done.finish_reason == "tool_calls"

    cut = fixture("mistral_completion.json").replace('"finish_reason": "length"',
                                                     '"finish_reason": "model_length"')
    assert "model_length" in cut
    assert complete(Fake(answer(200, cut)).provider("mistral")).finish_reason == "length"


def test_mistral_has_no_logit_bias():
    provider = Fake(answer(200, fixture("mistral_completion.json"))).provider("mistral")
    error = failure_of(lambda: complete(provider, request(logit_bias=(("42", -100),))))
    assert error.failure == Failure.UNSUPPORTED
