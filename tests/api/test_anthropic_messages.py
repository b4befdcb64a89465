"""The anthropic Python SDK against a live Dihya: POST /v1/messages over an OpenAI-compatible
engine (a scripted one for tool calls, tests/api/fake_engine.py; llama.cpp for plain text).

What is pinned: the SDK parses every answer into its own types (so the shapes are Anthropic's),
tool calls make the round trip through `tool_use` and `tool_result`, and the engine is asked in
the chat-completions format it speaks.
"""

from __future__ import annotations

import anthropic
import pytest

from dihya.gateway.models import Generation
from tests.api.fake_engine import answer, fake_engine, sse  # noqa: F401 - a fixture
from tests.api.test_tool_calls import CALL, TOOL_STREAM, chunk

WEATHER = {"name": "get_weather", "description": "The weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}
ASK = [{"role": "user", "content": "Weather in Paris?"}]


@pytest.fixture
def sdk(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake"))
    return anthropic.Anthropic(base_url=api, api_key=make_key(), max_retries=0, timeout=30)


def test_it_answers_a_message(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer("Hello there"))

    done = sdk.messages.create(model="default", max_tokens=100, messages=ASK,
                               system="Be brief.", extra_body={"temperature": 0.5})

    assert done.type == "message" and done.role == "assistant" and done.model == "default"
    assert [b.model_dump() for b in done.content] == [
        {"type": "text", "text": "Hello there", "citations": None}]
    assert done.stop_reason == "end_turn" and done.stop_sequence is None
    assert (done.usage.input_tokens, done.usage.output_tokens) == (12, 5)
    assert done.id == "msg_" + Generation.objects.get().pk.hex
    sent = fake_engine.requests[0]
    assert sent["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Weather in Paris?"}]
    assert sent["max_tokens"] == 100 and sent["temperature"] == 0.5


def test_it_says_the_answer_was_cut_at_max_tokens(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer("Hel", finish_reason="length"))

    done = sdk.messages.create(model="default", max_tokens=1, messages=ASK)

    assert done.stop_reason == "max_tokens"


def test_it_completes_a_tool_turn_and_its_tool_result(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer(None, tool_calls=[CALL], finish_reason="tool_calls"))
    fake_engine.reply(answer("It is 21 C in Paris."))

    called = sdk.messages.create(model="default", max_tokens=100, messages=ASK,
                                 tools=[WEATHER], tool_choice={"type": "any"})
    assert called.stop_reason == "tool_use"
    use = called.content[0]
    assert (use.type, use.id, use.name, use.input) == (
        "tool_use", "call_Paris1", "get_weather", {"city": "Paris"})
    final = sdk.messages.create(model="default", max_tokens=100, tools=[WEATHER], messages=[
        *ASK, {"role": "assistant", "content": called.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": "21 C"}]}])

    assert final.content[0].text == "It is 21 C in Paris."
    first, second = fake_engine.requests
    assert first["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city.",
        "parameters": WEATHER["input_schema"]}}]
    assert first["tool_choice"] == "required"
    assert second["messages"][1]["tool_calls"] == [CALL]
    assert second["messages"][2] == {"role": "tool", "content": "21 C",
                                     "tool_call_id": "call_Paris1"}


def test_it_streams_text(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(sse(chunk({"role": "assistant", "content": "Hel"}),
                          chunk({"content": "lo"}), chunk({}, "stop")))

    with sdk.messages.stream(model="default", max_tokens=100, messages=ASK) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()

    assert texts == ["Hel", "lo"]
    assert final.content[0].text == "Hello" and final.stop_reason == "end_turn"


def test_it_streams_a_tool_use_then_takes_its_result(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(TOOL_STREAM)
    fake_engine.reply(sse(chunk({"role": "assistant", "content": "21 C."}), chunk({}, "stop")))

    with sdk.messages.stream(model="default", max_tokens=100, messages=ASK,
                             tools=[WEATHER]) as stream:
        called = stream.get_final_message()
    assert called.stop_reason == "tool_use"
    assert called.content[0].input == {"city": "Paris"}
    assert called.usage.output_tokens == 9
    with sdk.messages.stream(model="default", max_tokens=100, tools=[WEATHER], messages=[
            *ASK, {"role": "assistant", "content": called.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_Paris1",
                                          "content": [{"type": "text", "text": "21 C"}]}]}],
            ) as stream:
        final = stream.get_final_message()

    assert final.content[0].text == "21 C."
    assert fake_engine.requests[1]["messages"][2]["content"] == "21 C"


def test_thinking_blocks_of_the_history_never_reach_the_engine(sdk, fake_engine):  # noqa: F811
    sdk.messages.create(model="default", max_tokens=100, messages=[
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "secret plan", "signature": "sig"},
            {"type": "redacted_thinking", "data": "xyz"},
            {"type": "text", "text": "Hello"}]},
        {"role": "user", "content": "Again"}])

    assert fake_engine.requests[0]["messages"] == [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Again"}]


def test_it_counts_tokens_with_the_engines_tokenizer(sdk, fake_engine):  # noqa: F811
    fake_engine.reply({"tokens": [1, 2, 3, 4, 5, 6, 7]})

    counted = sdk.messages.count_tokens(model="default", messages=ASK)

    assert counted.input_tokens == 7
    assert fake_engine.paths == ["/tokenize"]
    assert "Weather in Paris?" in fake_engine.requests[0]["content"]


def test_it_estimates_tokens_when_the_engine_has_no_tokenizer(sdk, fake_engine):  # noqa: F811
    fake_engine.reply({"detail": "no such endpoint"}, status=404)

    counted = sdk.messages.count_tokens(model="default", messages=[
        {"role": "user", "content": "x" * 400}])

    assert counted.input_tokens == (400 + len("user")) // 4
    assert not Generation.objects.exists()


def test_it_takes_the_key_as_x_api_key_and_as_a_bearer_token(api, sdk, make_key):
    bearer = anthropic.Anthropic(base_url=api, auth_token=make_key(), max_retries=0)

    assert sdk.messages.create(model="default", max_tokens=10, messages=ASK).content
    assert bearer.messages.create(model="default", max_tokens=10, messages=ASK).content


def test_a_bad_key_is_an_authentication_error(api, sdk):
    stranger = anthropic.Anthropic(base_url=api, api_key="dh-wrong", max_retries=0)

    with pytest.raises(anthropic.AuthenticationError) as raised:
        stranger.messages.create(model="default", max_tokens=10, messages=ASK)

    assert raised.value.status_code == 401
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == "authentication_error"
    assert raised.value.body["error"]["code"] == "invalid_api_key"


def test_a_bad_body_is_an_invalid_request_error(sdk):
    with pytest.raises(anthropic.BadRequestError) as raised:
        sdk.messages.create(model="default", max_tokens=10, messages=[
            {"role": "user", "content": "Hi"}], extra_body={"temperature": 1.5})

    error = raised.value.body["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "temperature")


def test_an_unknown_route_is_not_found(sdk):
    with pytest.raises(anthropic.NotFoundError) as raised:
        sdk.messages.create(model="nowhere", max_tokens=10, messages=ASK)

    assert raised.value.body["error"] == {
        "type": "not_found_error", "code": "model_not_found", "param": "model",
        "message": "The model (route) 'nowhere' does not exist."}


def test_models_are_listed_in_anthropics_shape(sdk):
    page = sdk.models.list()

    assert [(m.type, m.id, m.display_name) for m in page.data] == [
        ("model", "default", "default")]
    assert sdk.models.retrieve("default").id == "default"


@pytest.mark.engine
def test_llama_answers_a_message(api, llama, make_engine, make_route, make_key):
    make_route("default", make_engine(llama, name="llama"), max_tokens=16)
    sdk = anthropic.Anthropic(base_url=api, api_key=make_key(), max_retries=0, timeout=180)

    done = sdk.messages.create(model="default", max_tokens=8, extra_body={"temperature": 0},
                               messages=[{"role": "user", "content": "Say hello."}])
    with sdk.messages.stream(model="default", max_tokens=8, extra_body={"temperature": 0},
                             messages=[{"role": "user", "content": "Say hello."}]) as stream:
        streamed = stream.get_final_message()
    counted = sdk.messages.count_tokens(model="default", messages=[
        {"role": "user", "content": "Say hello."}])

    assert done.content[0].text and done.usage.output_tokens > 0
    assert streamed.content[0].text == done.content[0].text
    assert 0 < counted.input_tokens < 20
