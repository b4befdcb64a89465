"""A client's JSON Schema cannot stall a process (issue 24, #2).

Validating an answer against chained `anyOf` + `$ref` costs 2^depth, and a `pattern` with
nested quantifiers backtracks for ever. The request check refuses such schemas with a 400
naming the limit and the field; `pattern` runs on RE2; and an answer is validated off the
event loop within DIHYA_SCHEMA_VALIDATION_SECONDS, so the other calls of the process keep
answering while one is judged, and a schema too costly to judge fails its attempt as invalid.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import respx
from pydantic import ValidationError

from dihya.api import param_of
from dihya.gateway.models import ApiClient
from dihya.generation import pipeline
from dihya.generation.errors import Refusal
from dihya.generation.requests import ChatBody
from dihya.lib import json_schemas

HELLO = {"model": "default", "messages": [{"role": "user", "content": "Say hello"}]}
ENGINE = "http://engine.test/v1"


def chained(depth: int) -> dict[str, Any]:
    """Each level is anyOf two references to the next: 2^depth paths to the bottom."""
    defs: dict[str, Any] = {f"a{i}": {"anyOf": [{"$ref": f"#/$defs/a{i + 1}"},
                                                {"$ref": f"#/$defs/a{i + 1}"}]}
                            for i in range(depth)}
    defs[f"a{depth}"] = {"type": "integer"}
    return {"$defs": defs, "$ref": "#/$defs/a0"}


def deep(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(levels):
        schema = {"not": schema}
    return schema


def with_schema(schema: dict[str, Any]) -> dict[str, Any]:
    return {**HELLO, "response_format": {"type": "json_schema",
                                         "json_schema": {"name": "out", "schema": schema}}}


def with_tool(parameters: dict[str, Any]) -> dict[str, Any]:
    return {**HELLO, "tools": [{"type": "function",
                                "function": {"name": "f", "parameters": parameters}}]}


def refusal(body: dict[str, Any]) -> tuple[str | None, str]:
    with pytest.raises(ValidationError) as caught:
        ChatBody.model_validate(body)
    error = caught.value.errors()[0]
    return param_of(error["loc"]), error["msg"]


@pytest.mark.parametrize(("schema", "limit"), [
    (chained(12), "$refs nest deeper than 8"),
    ({"$defs": {f"a{i}": {"anyOf": [{"$ref": f"#/$defs/a{i + 1}"}] * 10} for i in range(5)}
      | {"a5": {"type": "integer"}}, "$ref": "#/$defs/a0"}, "more than 4000 subschemas"),
    ({"type": "string", "pattern": "^(a|a)*(?=b)"}, "patterns run on RE2"),
    ({"type": "object", "patternProperties": {"(x)\\1": {}}}, "patterns run on RE2"),
    ({"$defs": {"x": {"anyOf": [{"$ref": "#/$defs/x"}]}}, "$ref": "#/$defs/x"},
     "endless recursion"),
    ({"$ref": "https://example.com/schema.json"}, "only local references"),
    ({"type": "string", "enum": ["x" * 100] * 700}, "bytes; at most 65536"),
    ({"anyOf": [{"type": "string"}] * 130}, "branches and not/if; at most 128"),
    (deep(900), "nests deeper than 32 levels"),  # was a RecursionError: a 500
])
def test_it_refuses_a_costly_schema_naming_the_limit_and_the_field(schema, limit):
    param, message = refusal(with_schema(schema))
    assert param == "response_format.json_schema.schema"
    assert limit in message

    param, message = refusal(with_tool(schema))  # a tool's parameters alike
    assert param == "tools[0].function.parameters"
    assert limit in message


@pytest.mark.parametrize("schema", [
    chained(5),
    {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[A-Z][a-z]+$"},
                                      "children": {"type": "array", "items": {"$ref": "#"}}},
     "required": ["name"]},  # a tree: recursion through the value is fine
    {"type": "object", "patternProperties": {"^x-": {"type": "string"}}},
])
def test_it_accepts_ordinary_schemas(schema):
    ChatBody.model_validate(with_schema(schema))


def test_a_pattern_runs_in_linear_time():
    started = time.monotonic()
    error = json_schemas.first_error({"type": "string", "pattern": "^(a+)+$"},
                                     "a" * 50_000 + "b", 5.0)
    assert error is not None and "does not match" in error.message
    assert time.monotonic() - started < 0.5  # Python's re: beyond any test's patience


@pytest.fixture
def caller(db, make_engine, make_route) -> pipeline.Caller:
    route = make_route("default", make_engine(ENGINE, name="fake"), max_tokens=50)
    client = ApiClient.objects.create(name="app")
    client.routes.add(route)
    return pipeline.Caller(client=client, allowed_routes=frozenset({route.pk}))


def reply(content: str) -> httpx.Response:
    return httpx.Response(200, json={
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})


def test_other_calls_keep_answering_while_a_hostile_schema_is_validated(
        caller, settings, monkeypatch):
    settings.DIHYA_SCHEMA_VALIDATION_SECONDS = 2.0
    # A schema the request check let through (one stored before the check, or a limit the
    # operator raised): judging "x" against it would take seconds of pure Python.
    monkeypatch.setattr(json_schemas, "check", lambda schema: None)
    hostile = pipeline.admit(caller, ChatBody.model_validate(with_schema(chained(16))))
    plain = pipeline.admit(caller, ChatBody.model_validate(HELLO))

    async def both() -> tuple[Any, Any, float, float]:
        started = time.monotonic()
        judged = asyncio.ensure_future(pipeline.execute(hostile))
        await asyncio.sleep(0.2)  # the hostile answer is being validated (or the loop is stuck)
        answered = await pipeline.execute(plain)
        answered_at = time.monotonic() - started
        outcome = await judged
        return outcome, answered, answered_at, time.monotonic() - started

    with respx.mock:
        respx.post(f"{ENGINE}/chat/completions").mock(side_effect=lambda request: reply(
            '"x"' if b"json_schema" in request.content else "Hello"))
        outcome, answered, answered_at, judged_in = asyncio.run(both())

    assert answered.completion.text == "Hello"
    # Asked 0.2 s in, answered long before the hostile validation ended (not after it).
    assert answered_at < judged_in - 0.5
    assert isinstance(outcome, pipeline.RunFailed)  # failed as invalid, not a crash or a 500
    assert outcome.attempts[-1].outcome == "invalid_output"
    assert "could not be validated against the schema in 2 s" in outcome.attempts[-1].detail
    assert judged_in < 6.0  # the budget, not the seconds of a full validation
    with pytest.raises(Refusal) as refused:
        pipeline.record(hostile, outcome)
    assert refused.value.status == 503
