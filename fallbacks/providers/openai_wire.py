"""OpenAI's chat wire format both ways: a `ChatRequest` as a body, an answer as our types.

Shared by every OpenAI-shaped provider (OpenAI-compatible servers, Mistral), which override
the few places they differ through the `Dialect` hooks. Sources: platform.openai.com/docs/
api-reference/chat (messages with `tool_calls`, `tool` messages with `tool_call_id`, content
parts, `tools`/`tool_choice`, `response_format`, streamed `delta.tool_calls` fragments with
`index`, `id` and `function.name` first, then `function.arguments` pieces). llama.cpp adds
`reasoning_content` to messages and deltas. Never sends a field the request does not set.
"""

from __future__ import annotations

import json
from typing import Any

from fallbacks.errors import Failure, ProviderError
from fallbacks.spec import (
    ChatRequest,
    Message,
    Tool,
    ToolCall,
    ToolCallDelta,
)
from fallbacks.text import clean_output

#: finish_reason values from OpenAI's set, and what other engines say for them.
FINISH_REASONS = {"stop": "stop", "length": "length", "tool_calls": "tool_calls",
                  "content_filter": "content_filter", "function_call": "tool_calls",
                  "model_length": "length", "max_tokens": "length", "eos": "stop",
                  "stop_sequence": "stop", "end_turn": "stop", "tool_use": "tool_calls",
                  "load": "stop", "unload": "stop"}


def finish_reason(value: Any, *, tool_calls: bool = False) -> str:
    """An engine's finish reason in OpenAI's set (unknown ones read as `stop`)."""
    reason = FINISH_REASONS.get(str(value), "stop") if value else "stop"
    if tool_calls and reason == "stop":
        return "tool_calls"
    return reason


def tool_body(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def content_body(m: Message) -> Any:
    if not m.parts:
        if not m.content and m.tool_calls:
            return None
        return m.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
    for p in m.parts:
        if p.type == "image_url":
            image: dict[str, Any] = {"url": p.url}
            if p.detail:
                image["detail"] = p.detail
            parts.append({"type": "image_url", "image_url": image})
        else:
            parts.append({"type": "input_audio",
                          "input_audio": {"data": p.data, "format": p.format}})
    return parts


class Dialect:
    """How an OpenAI-shaped API spells what OpenAI spells; Mistral's differ (providers.mistral)."""

    seed_field = "seed"

    def call_id(self, call_id: str) -> str:
        return call_id

    def tool_choice(self, request: ChatRequest) -> Any:
        if request.tool_choice == "function":
            return {"type": "function", "function": {"name": request.tool_name}}
        return request.tool_choice

    def message(self, m: Message) -> dict[str, Any]:
        body: dict[str, Any] = {"role": m.role, "content": content_body(m)}
        if m.tool_calls:
            body["tool_calls"] = [{"id": self.call_id(c.id), "type": "function",
                                   "function": {"name": c.name, "arguments": c.arguments}}
                                  for c in m.tool_calls]
        if m.tool_call_id is not None:
            body["tool_call_id"] = self.call_id(m.tool_call_id)
        if m.name is not None:
            body["name"] = m.name
        return body

    def extras(self, request: ChatRequest, body: dict[str, Any]) -> None:
        """Tools, structured output and the sampling extras, in this API's terms."""
        if request.tools:
            body["tools"] = [tool_body(t) for t in request.tools]
            if request.tool_choice is not None:
                body["tool_choice"] = self.tool_choice(request)
            if request.parallel_tool_calls is not None:
                body["parallel_tool_calls"] = request.parallel_tool_calls
        if (rf := request.response_format) is not None:
            if rf.type == "json_schema":
                spec: dict[str, Any] = {"name": rf.name, "schema": rf.schema or {}}
                if rf.strict is not None:
                    spec["strict"] = rf.strict
                body["response_format"] = {"type": "json_schema", "json_schema": spec}
            else:
                body["response_format"] = {"type": rf.type}
        if request.logprobs:
            body["logprobs"] = True
            if request.top_logprobs is not None:
                body["top_logprobs"] = request.top_logprobs
        for key in ("presence_penalty", "frequency_penalty", "reasoning_effort"):
            if (value := getattr(request, key)) is not None:
                body[key] = value
        if request.logit_bias:
            body["logit_bias"] = dict(request.logit_bias)


def tool_calls_of(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise ProviderError(Failure.BAD_RESPONSE, "tool_calls is not a list")
    found = []
    try:
        for call in calls:
            function = call["function"]
            arguments = function.get("arguments")
            if not isinstance(arguments, str):  # some servers send an object
                arguments = json.dumps(arguments if arguments is not None else {})
            found.append(ToolCall(clean_output(str(call.get("id") or "")),
                                  clean_output(str(function["name"])), clean_output(arguments)))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProviderError(Failure.BAD_RESPONSE, "a tool call without function.name") from exc
    return tuple(found)


def tool_call_deltas(delta: dict[str, Any]) -> tuple[ToolCallDelta, ...]:
    calls = delta.get("tool_calls") or []
    if not isinstance(calls, list):
        raise ProviderError(Failure.BAD_RESPONSE, "delta.tool_calls is not a list")
    found = []
    try:
        for position, call in enumerate(calls):
            function = call.get("function") or {}
            found.append(ToolCallDelta(
                index=int(call.get("index", position)),
                id=clean_output(str(call["id"])) if call.get("id") else None,
                name=clean_output(str(function["name"])) if function.get("name") else None,
                arguments=clean_output(str(function.get("arguments") or ""))))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ProviderError(Failure.BAD_RESPONSE, "bad delta.tool_calls") from exc
    return tuple(found)


def reasoning_of(message: dict[str, Any]) -> str:
    value = message.get("reasoning_content") or message.get("reasoning") or ""
    return clean_output(value) if isinstance(value, str) else ""
