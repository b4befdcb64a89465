"""OpenAI chat completions: the chat.completion object and the chat.completion.chunk SSE stream.

The request side is the canonical body itself (`ChatBody` is OpenAI's shape).

Only formatting lives here; the pipeline decides which engine runs and records how it went.
The stream must end either with `data: [DONE]` or, when the engine dies after the first token
(too late to fall back), with one `data: {"error": …}` event, which OpenAI's SDKs raise as an
APIError.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from django.db import InterfaceError, OperationalError

from dihya.generation.pipeline import Admission, Streaming
from fallbacks.runner import RunResult
from fallbacks.spec import ChatRequest, Completion, Delta, ToolCallDelta, Usage

log = logging.getLogger(__name__)


def completion_id(admission: Admission) -> str:
    return "chatcmpl-" + admission.generation.pk.hex


def usage_body(usage: Usage) -> dict[str, int]:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens}


#: OpenAI's answers carry one; ours names the gateway, not a backend configuration.
SYSTEM_FINGERPRINT = "fp_dihya"


def finish_of(reason: str | None, request: ChatRequest) -> str:
    reason = reason or "stop"
    return "function_call" if reason == "tool_calls" and request.legacy_functions else reason


def message_body(c: Completion, request: ChatRequest) -> dict[str, Any]:
    """The assistant message as OpenAI's schema has it: content null beside tool calls."""
    message: dict[str, Any] = {"role": "assistant",
                               "content": c.text if c.text or not c.tool_calls else None,
                               "refusal": c.refusal}
    if c.tool_calls and request.legacy_functions:
        message["function_call"] = {"name": c.tool_calls[0].name,
                                    "arguments": c.tool_calls[0].arguments}
    elif c.tool_calls:
        message["tool_calls"] = [{"id": t.id, "type": "function",
                                  "function": {"name": t.name, "arguments": t.arguments}}
                                 for t in c.tool_calls]
    if c.reasoning:
        message["reasoning_content"] = c.reasoning  # llama.cpp's name, read by many clients
    return message


def chat_of(admission: Admission) -> ChatRequest:
    """The chat request a chat answer formats (embeddings have their own: dihya.api.embeddings)."""
    assert isinstance(admission.request, ChatRequest)
    return admission.request


def completion(admission: Admission, result: RunResult) -> dict[str, Any]:
    c, request = result.completion, chat_of(admission)
    return {
        "id": completion_id(admission),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": admission.route.name,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [{"index": 0, "message": message_body(c, request),
                     "logprobs": c.logprobs,
                     "finish_reason": finish_of(c.finish_reason, request)}],
        "usage": usage_body(c.usage),
    }


def tool_call_chunk(f: ToolCallDelta) -> dict[str, Any]:
    """A fragment as OpenAI streams it: index, id, type and name first, then arguments."""
    body: dict[str, Any] = {"index": f.index}
    function: dict[str, str] = {}
    if f.id:
        body["id"] = f.id
        body["type"] = "function"
    if f.name:
        function["name"] = f.name
    if f.arguments or f.id or f.name:
        function["arguments"] = f.arguments
    body["function"] = function
    return body


def delta_body(delta: Delta, request: ChatRequest, *, first: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if first:
        body["role"] = "assistant"
        body["content"] = delta.text if delta.text or not delta.tool_calls else None
    elif delta.text:
        body["content"] = delta.text
    if delta.reasoning:
        body["reasoning_content"] = delta.reasoning
    if delta.tool_calls and request.legacy_functions:
        function: dict[str, str] = {"arguments": "".join(f.arguments for f in delta.tool_calls
                                                         if f.index == 0)}
        if name := next((f.name for f in delta.tool_calls if f.index == 0 and f.name), None):
            function["name"] = name
        body["function_call"] = function
    elif delta.tool_calls:
        body["tool_calls"] = [tool_call_chunk(f) for f in delta.tool_calls]
    return body


#: `json.dumps(x, separators=…)` builds an encoder per call; this one serves every chunk.
encode = json.JSONEncoder(separators=(",", ":")).encode


def event(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else encode(payload)
    return f"data: {data}\n\n".encode()


async def chunks(admission: Admission, streaming: Streaming) -> AsyncIterator[bytes]:
    """Relay the pipeline's deltas as OpenAI chunks. Must be an async generator: Django streams
    those under ASGI, while a sync one would be collected whole before the first byte.

    Every chunk of a stream shares its id, model and the rest: they are serialised once, and
    a chunk is that text around its delta's (the bytes `event` would make of the whole
    object, without building it); a chunk of text alone, most of them, is its text encoded."""
    with_usage = admission.include_usage
    request = chat_of(admission)
    head = encode({"id": completion_id(admission), "object": "chat.completion.chunk",
                   "created": int(time.time()), "model": admission.route.name,
                   "system_fingerprint": SYSTEM_FINGERPRINT})[:-1]
    before = f'data: {head},"choices":[{{"index":0,"delta":'
    after = ',"usage":null}\n\n' if with_usage else "}\n\n"
    plain = ',"logprobs":null,"finish_reason":null}]' + after

    def chunk(delta: dict[str, Any], finish_reason: str | None = None,
              logprobs: dict[str, Any] | None = None) -> bytes:
        return (f'{before}{encode(delta)},"logprobs":{encode(logprobs)},'
                f'"finish_reason":{encode(finish_reason)}}}]{after}').encode()

    usage = Usage(0, 0)
    finish_reason = "stop"
    first = True
    try:
        # Closed with this generator, not whenever the garbage collector gets to it: the relay
        # then records the end and frees the engine's connection at once (a client gone).
        async with contextlib.aclosing(streaming.deltas) as deltas:
            async for delta in deltas:
                if (delta.text and not first and not delta.reasoning and not delta.tool_calls
                        and delta.logprobs is None):
                    yield f'{before}{{"content":{encode(delta.text)}}}{plain}'.encode()
                else:
                    body = delta_body(delta, request, first=first)
                    if body or delta.logprobs:
                        yield chunk(body, logprobs=delta.logprobs)
                    first = False
                finish_reason = delta.finish_reason or finish_reason
                usage = delta.usage or usage
    except (OperationalError, InterfaceError) as exc:  # recording it: a database restart
        log.warning("generation %s: database unavailable in its stream: %s",
                    admission.generation.pk, exc)
        yield event({"error": {
            "message": "The database is unavailable for a moment; retry shortly.",
            "type": "service_unavailable", "param": None, "code": "database_unavailable"}})
        return
    except Exception as exc:  # whatever killed the engine, the client is told
        log.info("generation %s: stream ended by an engine error", admission.generation.pk)
        yield event({"error": {
            "message": f"The engine {streaming.engine} failed after the answer began: {exc}",
            "type": "service_unavailable", "param": None, "code": "engine_failed_mid_stream"}})
        return
    yield chunk({}, finish_of(finish_reason, request))
    if with_usage:
        yield f'data: {head},"choices":[],"usage":{encode(usage_body(usage))}}}\n\n'.encode()
    yield event("[DONE]")
