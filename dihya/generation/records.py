"""A client's body as the request engines are asked (`ChatRequest`, `EmbeddingRequest`), and
that request as a JSON record.

The record is the generation row's `request`: a queued job is run from it by a worker, so
everything a provider may need must survive the round trip (`from_record(record_of(r)) == r`,
tests/api/test_request_fidelity.py). Records written before a field existed read as its
default; an embedding request's record says `"kind": "embeddings"`, a chat one's says nothing.
The record holds what the client sent (messages, inputs): it is content, erased and exported
with the person (dihya.privacy.erasure). This module never decides anything about a route:
`pipeline` does.
"""

from __future__ import annotations

from typing import Any

from dihya.generation.messages import AudioPart, ChatMessage, ImagePart, text_of
from dihya.generation.requests import ChatBody, EmbeddingBody, NamedFunction, NamedToolChoice
from fallbacks.spec import (
    ChatRequest,
    EmbeddingRequest,
    Embeddings,
    Message,
    Part,
    Request,
    ResponseFormat,
    Tool,
    ToolCall,
    ToolCallDelta,
)

LEGACY_ID = "call_legacy"  # the one call of a legacy `function_call` message


def message_of(m: ChatMessage) -> Message:
    parts: list[Part] = []
    if isinstance(m.content, list):
        for p in m.content:
            if isinstance(p, ImagePart):
                parts.append(Part("image_url", url=p.image_url.url, detail=p.image_url.detail))
            elif isinstance(p, AudioPart):
                parts.append(Part("input_audio", data=p.input_audio.data,
                                  format=p.input_audio.format))
    calls = tuple(ToolCall(c.id, c.function.name, c.function.arguments)
                  for c in m.tool_calls or ())
    if m.function_call is not None and not calls:
        calls = (ToolCall(LEGACY_ID, m.function_call.name, m.function_call.arguments),)
    if m.role == "function":  # the legacy loop's answer to the assistant's function_call
        return Message("tool", text_of(m.content), tool_call_id=LEGACY_ID, name=m.name)
    return Message(m.role, text_of(m.content), parts=tuple(parts), tool_calls=calls,
                   tool_call_id=m.tool_call_id, name=m.name)


def tools_of(body: ChatBody) -> tuple[tuple[Tool, ...], str | None, str | None, bool]:
    """Tools, tool_choice, the named tool, and whether they came as legacy functions."""
    choice: str | NamedToolChoice | NamedFunction | None
    if body.tools:
        tools = tuple(Tool(t.function.name, t.function.description, t.function.parameters,
                           t.function.strict) for t in body.tools)
        choice = body.tool_choice
        legacy = False
    elif body.functions:
        tools = tuple(Tool(f.name, f.description, f.parameters, f.strict)
                      for f in body.functions)
        choice = body.function_call
        legacy = True
    else:
        return (), None, None, False
    if choice is None or isinstance(choice, str):
        return tools, choice, None, legacy
    named = choice.function if isinstance(choice, NamedToolChoice) else choice
    return tools, "function", named.name, legacy


def format_of(body: ChatBody) -> ResponseFormat | None:
    rf = body.response_format
    if rf is None:
        return None
    if rf.type == "json_schema":
        spec = rf.json_schema
        return ResponseFormat("json_schema", spec.name, spec.schema_, spec.strict)
    return ResponseFormat(rf.type)


def request_of(body: ChatBody, max_tokens: int) -> ChatRequest:
    tools, choice, name, legacy = tools_of(body)
    return ChatRequest(
        messages=tuple(message_of(m) for m in body.messages),
        max_tokens=max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        stop=body.stops,
        seed=body.seed,
        tools=tools, tool_choice=choice, tool_name=name,
        parallel_tool_calls=body.parallel_tool_calls, legacy_functions=legacy,
        response_format=format_of(body),
        logprobs=bool(body.logprobs), top_logprobs=body.top_logprobs,
        presence_penalty=body.presence_penalty, frequency_penalty=body.frequency_penalty,
        logit_bias=tuple(sorted((body.logit_bias or {}).items())),
        reasoning_effort=body.reasoning_effort,
    )


def embedding_request_of(body: EmbeddingBody) -> EmbeddingRequest:
    return EmbeddingRequest(inputs=body.inputs, dimensions=body.dimensions)


# --- the record ------------------------------------------------------------------------------
EMBEDDINGS = "embeddings"  # a record's `kind`


def record_of(request: Request) -> dict[str, Any]:
    if isinstance(request, EmbeddingRequest):
        return {"kind": EMBEDDINGS,
                "inputs": [i if isinstance(i, str) else list(i) for i in request.inputs],
                "dimensions": request.dimensions}
    record: dict[str, Any] = {
        "messages": [message_record(m) for m in request.messages],
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "stop": list(request.stop),
        "seed": request.seed,
    }
    if request.tools:
        record["tools"] = [{"name": t.name, "description": t.description,
                            "parameters": t.parameters, "strict": t.strict}
                           for t in request.tools]
        record["tool_choice"] = request.tool_choice
        record["tool_name"] = request.tool_name
        record["parallel_tool_calls"] = request.parallel_tool_calls
        record["legacy_functions"] = request.legacy_functions
    if (rf := request.response_format) is not None:
        record["response_format"] = {"type": rf.type, "name": rf.name, "schema": rf.schema,
                                     "strict": rf.strict}
    for key in ("top_logprobs", "presence_penalty", "frequency_penalty", "reasoning_effort"):
        if (value := getattr(request, key)) is not None:
            record[key] = value
    if request.logprobs:
        record["logprobs"] = True
    if request.logit_bias:
        record["logit_bias"] = dict(request.logit_bias)
    return record


def message_record(m: Message) -> dict[str, Any]:
    record: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.parts:
        record["parts"] = [{"type": p.type, "url": p.url, "detail": p.detail, "data": p.data,
                            "format": p.format} for p in m.parts]
    if m.tool_calls:
        record["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments}
                                for c in m.tool_calls]
    if m.tool_call_id is not None:
        record["tool_call_id"] = m.tool_call_id
    if m.name is not None:
        record["name"] = m.name
    return record


def from_record(record: dict[str, Any]) -> Request:
    if record.get("kind") == EMBEDDINGS:
        return EmbeddingRequest(
            inputs=tuple(i if isinstance(i, str) else tuple(i) for i in record["inputs"]),
            dimensions=record.get("dimensions"))
    rf = record.get("response_format")
    return ChatRequest(
        messages=tuple(Message(
            m["role"], m["content"],
            parts=tuple(Part(**p) for p in m.get("parts") or ()),
            tool_calls=tuple(ToolCall(**c) for c in m.get("tool_calls") or ()),
            tool_call_id=m.get("tool_call_id"), name=m.get("name"),
        ) for m in record["messages"]),
        max_tokens=record["max_tokens"],
        temperature=record.get("temperature"),
        top_p=record.get("top_p"),
        stop=tuple(record.get("stop") or ()),
        seed=record.get("seed"),
        tools=tuple(Tool(**t) for t in record.get("tools") or ()),
        tool_choice=record.get("tool_choice"),
        tool_name=record.get("tool_name"),
        parallel_tool_calls=record.get("parallel_tool_calls"),
        legacy_functions=bool(record.get("legacy_functions")),
        response_format=ResponseFormat(**rf) if rf else None,
        logprobs=bool(record.get("logprobs")),
        top_logprobs=record.get("top_logprobs"),
        presence_penalty=record.get("presence_penalty"),
        frequency_penalty=record.get("frequency_penalty"),
        logit_bias=tuple(sorted((record.get("logit_bias") or {}).items())),
        reasoning_effort=record.get("reasoning_effort"),
    )


def prompt_of(record: dict[str, Any]) -> list[Any]:
    """What the client asked, as the audit log keeps it (redacted): the messages' texts, or
    the inputs embedded (texts, token arrays)."""
    if record.get("kind") == EMBEDDINGS:
        return list(record.get("inputs") or ())
    return [m.get("content", "") for m in record.get("messages", [])]


# --- the answer -------------------------------------------------------------------------------
def vectors_summary(embeddings: Embeddings) -> str:
    """What a generation row keeps of an embedding answer: its shape, never the vectors (they
    are the client's to store; a row per call would weigh kilobytes per input)."""
    return f"{len(embeddings.vectors)} vectors of {embeddings.dimension} dimensions"


# --- the answer's tool calls -----------------------------------------------------------------
def calls_record(calls: tuple[ToolCall, ...]) -> list[dict[str, str]]:
    return [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in calls]


class ToolCallJoiner:
    """A stream's tool-call fragments joined into whole calls, for the generation row."""

    def __init__(self) -> None:
        self.calls: dict[int, dict[str, str]] = {}

    def add(self, fragments: tuple[ToolCallDelta, ...]) -> None:
        for f in fragments:
            call = self.calls.setdefault(f.index, {"id": "", "name": "", "arguments": ""})
            call["id"] = f.id or call["id"]
            call["name"] = f.name or call["name"]
            call["arguments"] += f.arguments

    def record(self) -> list[dict[str, str]]:
        return [self.calls[i] for i in sorted(self.calls)]
