"""Capability-aware fallback: skip what cannot serve, fall back from broken JSON, never blame
the engine's health for either."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from dihya.lib import loop
from fallbacks.runner import RunFailed, Runner
from fallbacks.spec import (
    ChatRequest,
    EngineSpec,
    Message,
    ResponseFormat,
    RouteSpec,
    Tool,
)

TOOLS = ChatRequest(messages=(Message("user", "weather?"),), max_tokens=8,
                    tools=(Tool("get_weather", parameters={"type": "object"}),))
SCHEMA = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
STRUCTURED = ChatRequest(messages=(Message("user", "age?"),), max_tokens=8,
                         response_format=ResponseFormat("json_schema", "age", SCHEMA, True))


def said(content: str) -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"content": content},
                                                  "finish_reason": "stop"}],
                                     "usage": {"prompt_tokens": 3, "completion_tokens": 2}})


def route(*engines: tuple[str, frozenset[str]]) -> RouteSpec:
    return RouteSpec(id=1, name="r", strategy="ordered", max_tokens=8, engines=tuple(
        EngineSpec(id=i + 1, name=n, provider="openai", base_url=f"http://{n}/v1", model="m",
                   capabilities=caps) for i, (n, caps) in enumerate(engines)))


ALL = frozenset({"chat", "tools", "json_schema"})
CHAT = frozenset({"chat"})


class Recording:
    """A Health that remembers what it was told."""

    def __init__(self) -> None:
        self.told: list[tuple[str, object]] = []

    def skip_reason(self, engine: EngineSpec) -> str | None:
        return None

    def available(self, engine: EngineSpec) -> bool:
        return True

    def record(self, engine: EngineSpec, error: object) -> None:
        self.told.append((engine.name, error))


@respx.mock
def test_it_skips_an_engine_without_tools_at_no_cost():
    plain = respx.post("http://plain/v1/chat/completions").mock(return_value=said("prose"))
    respx.post("http://agent/v1/chat/completions").mock(return_value=said("ok"))
    health = Recording()

    result = loop.run(Runner(health).run(route(("plain", CHAT), ("agent", ALL)), TOOLS))

    assert result.engine.name == "agent" and not plain.called
    skipped = result.attempts[0]
    assert (skipped.outcome, skipped.detail, skipped.latency_ms) == (
        "unsupported", "lacks tools", 0.0)
    assert health.told == [("agent", None)]


def test_no_engine_that_can_is_unsupported_not_all_failed():
    with pytest.raises(RunFailed) as failed:
        loop.run(Runner().run(route(("a", CHAT), ("b", CHAT)), TOOLS))
    assert failed.value.code == "unsupported_parameter"


@pytest.mark.parametrize("message", [
    '{"error": {"code": 500, "message": "tools param requires --jinja flag", '
    '"type": "server_error"}}',
    '{"error": "registry.ollama.ai/library/gemma:2b does not support tools"}',
    '{"error": {"message": "\\"auto\\" tool choice requires --enable-auto-tool-choice and '
    '--tool-call-parser to be set", "type": "BadRequestError", "code": 400}}',
])
@respx.mock
def test_a_capability_error_from_the_engine_moves_on_without_blame(message):
    status = 500 if "jinja" in message else 400
    respx.post("http://a/v1/chat/completions").mock(
        return_value=httpx.Response(status, content=message.encode(),
                                    headers={"content-type": "application/json"}))
    respx.post("http://b/v1/chat/completions").mock(return_value=said("ok"))
    health = Recording()

    result = loop.run(Runner(health).run(route(("a", ALL), ("b", ALL)), TOOLS))

    assert result.engine.name == "b"
    assert result.attempts[0].outcome == "unsupported"
    assert health.told == [("b", None)]  # a's breaker heard nothing


@respx.mock
def test_an_answer_that_breaks_the_schema_falls_back():
    respx.post("http://a/v1/chat/completions").mock(return_value=said("I am 12"))
    respx.post("http://b/v1/chat/completions").mock(return_value=said('{"age": "twelve"}'))
    respx.post("http://c/v1/chat/completions").mock(return_value=said('{"age": 12}'))

    result = loop.run(Runner().run(route(("a", ALL), ("b", ALL), ("c", ALL)), STRUCTURED))

    assert json.loads(result.completion.text) == {"age": 12}
    a, b, _ = result.attempts
    assert a.outcome == b.outcome == "invalid_output"
    assert a.detail.startswith("the answer is not JSON")
    assert "does not match the schema at age" in b.detail


@respx.mock
def test_an_answer_cut_at_max_tokens_is_the_answer_not_a_failure():
    cut = httpx.Response(200, json={"choices": [{"message": {"content": '{"ag'},
                                                 "finish_reason": "length"}],
                                    "usage": {"prompt_tokens": 3, "completion_tokens": 8}})
    respx.post("http://a/v1/chat/completions").mock(return_value=cut)
    other = respx.post("http://b/v1/chat/completions").mock(return_value=said('{"age": 1}'))
    health = Recording()

    result = loop.run(Runner(health).run(route(("a", ALL), ("b", ALL)), STRUCTURED))

    assert (result.engine.name, result.completion.finish_reason) == ("a", "length")
    assert result.completion.text == '{"ag' and not other.called
    assert health.told == [("a", None)]
