"""/v1/messages on the wire, read as raw HTTP: the SSE event sequence Anthropic documents
(docs.anthropic.com/en/api/messages-streaming), its error shape, and what the dialect
translates, leaves out (and names) or refuses on the way to a chat-completions engine."""

from __future__ import annotations

import json

import httpx
import pytest

from dihya.gateway.models import Generation
from tests.api.fake_engine import answer, fake_engine, sse  # noqa: F401 - a fixture
from tests.api.test_errors import dying_engine_url  # noqa: F401 - a fixture
from tests.api.test_tool_calls import chunk

ASK = {"model": "default", "max_tokens": 50,
       "messages": [{"role": "user", "content": "Weather in Paris?"}]}
WEATHER = {"name": "get_weather", "input_schema": {"type": "object", "properties": {
    "city": {"type": "string"}}}}


@pytest.fixture
def post(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake",
                                      capabilities=["chat", "tools", "vision"]))
    key = make_key()

    def send(body: dict, path: str = "/v1/messages", **headers: str) -> httpx.Response:
        return httpx.post(api + path, json=body, timeout=30,
                          headers={"x-api-key": key, "anthropic-version": "2023-06-01",
                                   **headers})

    return send


def events_of(response: httpx.Response) -> list[tuple[str, dict]]:
    """(event name, data) pairs; each data's `type` must be its event's name."""
    pairs = []
    for block in response.text.strip().split("\n\n"):
        name, data = block.split("\n")
        assert name.startswith("event: ") and data.startswith("data: ")
        payload = json.loads(data.removeprefix("data: "))
        assert payload["type"] == name.removeprefix("event: ")
        pairs.append((payload["type"], payload))
    return pairs


def test_a_stream_follows_the_documented_sequence_text_then_tool_use(post, fake_engine):  # noqa: F811
    fake_engine.reply(sse(
        chunk({"role": "assistant", "content": "Let me check."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "get_weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls"),
        {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 9,
                                  "total_tokens": 29}}))

    response = post({**ASK, "stream": True, "tools": [WEATHER]})

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["X-Dihya-Engine"] == "fake"
    events = events_of(response)
    assert [(e, d.get("index")) for e, d in events] == [
        ("message_start", None), ("ping", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_delta", 1),
        ("content_block_stop", 1), ("message_delta", None), ("message_stop", None)]
    start = events[0][1]["message"]
    assert start["content"] == [] and start["role"] == "assistant"
    assert start["id"].startswith("msg_") and start["stop_reason"] is None
    assert set(start["usage"]) >= {"input_tokens", "output_tokens"}
    assert events[2][1]["content_block"] == {"type": "text", "text": ""}
    assert events[3][1]["delta"] == {"type": "text_delta", "text": "Let me check."}
    assert events[5][1]["content_block"] == {"type": "tool_use", "id": "call_1",
                                             "name": "get_weather", "input": {}}
    assert [d["delta"] for _, d in events[6:8]] == [
        {"type": "input_json_delta", "partial_json": '{"city":'},
        {"type": "input_json_delta", "partial_json": '"Paris"}'}]
    assert events[9][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[9][1]["usage"] == {"input_tokens": 20, "output_tokens": 9}


REASONING = sse(chunk({"role": "assistant", "reasoning_content": "Hmm."}),
                chunk({"content": "Hi"}), chunk({}, "stop"))


def test_reasoning_is_a_thinking_block_when_thinking_is_enabled(post, fake_engine):  # noqa: F811
    fake_engine.reply(REASONING)

    events = events_of(post({**ASK, "stream": True, "max_tokens": 300,
                             "thinking": {"type": "enabled", "budget_tokens": 200}}))

    blocks = [d for e, d in events if e in ("content_block_start", "content_block_delta")]
    assert [b.get("content_block", b.get("delta"))["type"] for b in blocks] == [
        "thinking", "thinking_delta", "text", "text_delta"]
    assert blocks[1]["delta"]["thinking"] == "Hmm." and blocks[2]["index"] == 1
    assert "thinking" not in json.dumps(fake_engine.requests[0])


def test_reasoning_is_dropped_when_thinking_was_not_asked(post, fake_engine):  # noqa: F811
    fake_engine.reply(REASONING)

    events = events_of(post({**ASK, "stream": True}))

    deltas = [d["delta"] for e, d in events if e == "content_block_delta"]
    assert deltas == [{"type": "text_delta", "text": "Hi"}]


def test_an_engine_dying_mid_stream_ends_it_with_an_error_event(
        api, dying_engine_url, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(dying_engine_url, name="dying"))

    response = httpx.post(api + "/v1/messages", json={**ASK, "stream": True}, timeout=30,
                          headers={"x-api-key": make_key()})

    events = events_of(response)
    assert [e for e, _ in events][-2:] == ["content_block_delta", "error"]
    error = events[-1][1]["error"]
    assert error["type"] == "api_error" and "dying" in error["message"]
    assert "message_stop" not in [e for e, _ in events]


def test_a_plain_answer_has_anthropics_shape(post, fake_engine):  # noqa: F811
    fake_engine.reply(answer("Sunny", tool_calls=[{
        "id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}],
        finish_reason="tool_calls"))

    response = post({**ASK, "tools": [WEATHER]}, "/v1/messages?beta=true",
                    **{"anthropic-beta": "interleaved-thinking-2025-05-14"})

    body = response.json()
    assert response.status_code == 200
    assert body == {"id": body["id"], "type": "message", "role": "assistant",
                    "model": "default", "stop_reason": "tool_use", "stop_sequence": None,
                    "content": [{"type": "text", "text": "Sunny"},
                                {"type": "tool_use", "id": "call_1", "name": "get_weather",
                                 "input": {"city": "Paris"}}],
                    "usage": {"input_tokens": 12, "output_tokens": 5,
                              "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    assert response.headers["X-Dihya-Generation"] and response.headers["X-Dihya-Engine"]


def test_what_no_engine_takes_is_left_out_and_named(post, fake_engine):  # noqa: F811
    response = post({**ASK, "top_k": 5, "context_management": {"edits": [
        {"type": "clear_tool_uses_20250919"}]}, "tools": [
        WEATHER, {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        {"type": "bash_20250124", "name": "bash"}]})

    assert response.status_code == 200
    assert response.headers["X-Dihya-Dropped-Params"] == "context_management,top_k"
    assert response.headers["X-Dihya-Dropped-Tools"] == "web_search,bash"
    sent = fake_engine.requests[0]
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]
    assert "top_k" not in sent


def test_a_claude_code_turn_is_translated_block_by_block(post, fake_engine):  # noqa: F811
    cached = {"type": "ephemeral"}
    response = post({"model": "default", "max_tokens": 50, "stream": False,
          "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": cached},
                     {"type": "text", "text": "Be terse."}],
          "metadata": {"user_id": "user_abc_session_1"},
          "tools": [{**WEATHER, "cache_control": cached}],
          "tool_choice": {"type": "tool", "name": "get_weather",
                          "disable_parallel_tool_use": True},
          "stop_sequences": ["END"],
          "messages": [
              {"role": "user", "content": [
                  {"type": "text", "text": "Look", "cache_control": cached},
                  {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                               "data": "iVBORw0KGgo="}}]},
              {"role": "assistant", "content": [
                  {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                   "input": {"city": "Paris"}}]},
              {"role": "user", "content": [
                  {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                   "content": [{"type": "text", "text": "no network"}]},
                  {"type": "text", "text": "Try again"}]}]})

    assert response.status_code == 200, response.text
    sent = fake_engine.requests[0]
    assert sent["messages"] == [
        {"role": "system", "content": "You are Claude Code.\n\nBe terse."},
        {"role": "user", "content": [
            {"type": "text", "text": "Look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "toolu_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "content": "[tool error] no network", "tool_call_id": "toolu_1"},
        {"role": "user", "content": "Try again"}]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["parallel_tool_calls"] is False
    assert sent["stop"] == ["END"]
    assert Generation.objects.get().end_user == "user_abc_session_1"


@pytest.mark.parametrize(("body", "param"), [
    ({**ASK, "max_tokens": None}, "max_tokens"),
    ({**ASK, "mcp_servers": [{"type": "url", "url": "https://x", "name": "x"}]}, "mcp_servers"),
    ({**ASK, "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
     "messages[0].content[0]"),
    ({**ASK, "tools": [{"name": "bad name!", "input_schema": {"type": "object"}}]},
     "tools[0]"),
])
def test_a_request_it_cannot_serve_is_an_invalid_request_error(post, body, param):
    response = post({k: v for k, v in body.items() if v is not None})

    assert response.status_code == 400
    error = response.json()["error"]
    assert response.json()["type"] == "error"
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param and error["code"] and error["message"]


def test_a_missing_key_is_an_authentication_error(api):
    response = httpx.post(api + "/v1/messages", json=ASK)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_an_unknown_messages_path_is_a_not_found_error(post):
    response = post({}, "/v1/messages/batches")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_a_wrong_method_is_an_invalid_request_error(api):
    response = httpx.get(api + "/v1/messages")

    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_x_api_key_opens_chat_completions_too(post):
    response = post({"model": "default", "messages": ASK["messages"]}, "/v1/chat/completions")

    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Hello"


def test_the_root_answers_a_head(api):
    response = httpx.head(api + "/")

    assert response.status_code == 200 and response.content == b""


def test_output_config_format_is_structured_output_and_effort_is_named(
        api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, capabilities=["chat", "json_schema"]))
    fake_engine.reply(answer('{"city": "Paris"}'))
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}

    response = httpx.post(api + "/v1/messages", timeout=30, headers={"x-api-key": make_key()},
                          json={**ASK, "output_config": {"effort": "high", "format": {
                              "type": "json_schema", "schema": schema}}})

    assert response.json()["content"] == [{"type": "text", "text": '{"city": "Paris"}'}]
    assert response.headers["X-Dihya-Dropped-Params"] == "output_config.effort"
    assert fake_engine.requests[0]["response_format"]["json_schema"]["schema"] == schema


def test_parallel_tool_calls_are_one_block_each_in_order(post, fake_engine):  # noqa: F811
    def call(index: int, **function: str) -> dict:
        fragment: dict = {"index": index, "function": function}
        if "name" in function:
            fragment.update(id=f"call_{index}", type="function")
        return chunk({"tool_calls": [fragment]})

    fake_engine.reply(sse(call(0, name="get_weather", arguments='{"city": "Paris"}'),
                          call(1, name="get_weather", arguments='{"city": '),
                          call(1, arguments='"Oslo"}'), chunk({}, "tool_calls")))

    events = events_of(post({**ASK, "stream": True, "tools": [WEATHER]}))

    starts = [d for e, d in events if e == "content_block_start"]
    assert [(s["index"], s["content_block"]["id"]) for s in starts] == [(0, "call_0"),
                                                                         (1, "call_1")]
    assert [(e, d.get("index")) for e, d in events if e.startswith("content_block")] == [
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_delta", 1),
        ("content_block_stop", 1)]


#: Claude Code 2.1.332's second request of a one-tool task, as captured (texts shortened):
#: `POST /v1/messages?beta=true`, x-api-key, a system message inside `messages` with its own
#: `output_config`, adaptive thinking, context_management, a deferred tool, 2020-12 schemas.
CLAUDE_CODE_TURN = {
    "model": "default", "max_tokens": 128000, "stream": True,
    "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.332;"},
               {"type": "text", "text": "You are a Claude agent.",
                "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "<system-reminder>…"},
                                     {"type": "text", "text": "Create done.txt containing hi"}]},
        {"role": "system", "content": "# Environment\nLinux", "output_config": {
            "effort": "medium"}},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash",
                                           "input": {"command": "echo hi > done.txt"}}]},
        {"role": "user", "content": [{"tool_use_id": "toolu_1", "type": "tool_result",
                                      "content": "(Bash completed with no output)",
                                      "is_error": False,
                                      "cache_control": {"type": "ephemeral"}}]}],
    "tools": [{"name": "Bash", "description": "Executes a bash command.", "input_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {"command": {"type": "string"}}, "required": ["command"],
        "additionalProperties": False}},
        {"name": "DeferredToolPlaceholder", "description": "Reserved placeholder.",
         "input_schema": {"type": "object", "properties": {}}, "defer_loading": True}],
    "metadata": {"user_id": '{"device_id":"4fcc1dcc","account_uuid":"","session_id":"17b6"}'},
    "thinking": {"type": "adaptive", "display": "omitted"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "output_config": {"effort": "medium"},
}


def test_a_captured_claude_code_turn_is_served(api, fake_engine, make_engine,  # noqa: F811
                                               make_route, make_key):
    make_route("default", make_engine(fake_engine.url), max_tokens=128000)
    fake_engine.reply(REASONING)

    response = httpx.post(api + "/v1/messages?beta=true", json=CLAUDE_CODE_TURN, timeout=30,
                          headers={"x-api-key": make_key(), "anthropic-version": "2023-06-01",
                                   "anthropic-beta": "claude-code-20250219,"
                                   "context-management-2025-06-27,effort-2025-11-24"})

    assert response.status_code == 200, response.text
    assert response.headers["X-Dihya-Dropped-Params"] == "context_management,output_config.effort"
    deltas = [d["delta"] for e, d in events_of(response) if e == "content_block_delta"]
    assert deltas == [{"type": "text_delta", "text": "Hi"}]  # thinking display: omitted
    sent = fake_engine.requests[0]
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool"]
    assert sent["messages"][0]["content"] == (
        "x-anthropic-billing-header: cc_version=2.1.332;\n\nYou are a Claude agent."
        "\n\n# Environment\nLinux")
    assert [t["function"]["name"] for t in sent["tools"]] == ["Bash", "DeferredToolPlaceholder"]
    assert sent["max_tokens"] == 128000
