"""Anthropic's Messages stream, from the pipeline's deltas.

The documented sequence: `message_start` once (the message with empty content), a `ping`, then
per content block `content_block_start`, its deltas (`text_delta`, `input_json_delta` for a
tool call's arguments, `thinking_delta` inside a thinking block) and `content_block_stop`;
then `message_delta` (stop_reason, usage) and `message_stop`. Blocks are numbered in order:
a change of kind (reasoning → text → a tool call) closes the open block and opens the next.
An engine that dies after the answer began ends the stream with `event: error`.

The engine's reasoning becomes a thinking block only when the request enabled thinking;
otherwise it is dropped. `message_start` can only estimate `input_tokens` (characters / 4, the
quotas' estimate): engines count the prompt at the end, and `message_delta` carries the count.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from django.db import InterfaceError, OperationalError

from dihya.api.dialects import anthropic_answer as answer
from dihya.generation.pipeline import Admission, Streaming
from fallbacks.spec import ChatRequest, ToolCallDelta, Usage

log = logging.getLogger(__name__)


#: One encoder for every event (`json.dumps` with options builds one per call).
encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def event(kind: str, payload: dict[str, Any]) -> bytes:
    data = encode({"type": kind, **payload})
    return f"event: {kind}\ndata: {data}\n\n".encode()


@dataclass
class Call:
    """A tool call being streamed: its block opens once its name is known."""

    id: str | None = None
    name: str | None = None
    pending: str = ""  # arguments that came before the name
    block: int | None = None


@dataclass
class Blocks:
    """The content blocks sent so far: which one is open, and the tool calls by index."""

    admission: Admission
    count: int = 0
    open: str | None = None  # "text" | "thinking" | "tool_use:<index>"
    calls: dict[int, Call] = field(default_factory=dict)

    def close(self) -> list[bytes]:
        if self.open is None:
            return []
        self.open = None
        return [event("content_block_stop", {"index": self.count - 1})]

    def start(self, kind: str, block: dict[str, Any]) -> list[bytes]:
        out = self.close()
        self.open = kind
        self.count += 1
        return [*out, event("content_block_start", {"index": self.count - 1,
                                                   "content_block": block})]

    def delta(self, kind: str, block: dict[str, Any], delta: dict[str, Any],
              index: int | None = None) -> list[bytes]:
        out = self.start(kind, block) if self.open != kind and index is None else []
        at = self.count - 1 if index is None else index
        return [*out, event("content_block_delta", {"index": at, "delta": delta})]

    def tool(self, f: ToolCallDelta) -> list[bytes]:
        call = self.calls.setdefault(f.index, Call())
        call.id = call.id or f.id
        call.name = call.name or f.name
        out: list[bytes] = []
        if call.block is None:
            if not call.name:
                call.pending += f.arguments
                return []
            out += self.start(f"tool_use:{f.index}", {
                "type": "tool_use", "id": answer.tool_id(self.admission, call.id, f.index),
                "name": call.name, "input": {}})
            call.block = self.count - 1
            arguments, call.pending = call.pending + f.arguments, ""
        else:
            arguments = f.arguments
        if arguments:
            # A call's arguments after another block opened (engines stream calls one after
            # the other, so rarely) still go to the call's own block.
            same = self.open == f"tool_use:{f.index}"
            out += self.delta(f"tool_use:{f.index}", {}, {
                "type": "input_json_delta", "partial_json": arguments},
                index=None if same else call.block)
        return out


async def events(admission: Admission, streaming: Streaming, model: str, *,
                 thinking: bool) -> AsyncIterator[bytes]:
    """Must be an async generator: Django streams those under ASGI, unbuffered."""
    request = admission.request
    assert isinstance(request, ChatRequest)
    estimate = request.prompt_chars // 4
    yield event("message_start", {"message": {
        "id": answer.message_id(admission), "type": "message", "role": "assistant",
        "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {**answer.usage_of(Usage(estimate, 0)), "output_tokens": 1}}})
    yield event("ping", {})
    blocks = Blocks(admission)
    usage: Usage | None = None
    finish_reason: str | None = None
    try:
        async for delta in streaming.deltas:
            out: list[bytes] = []
            if delta.reasoning and thinking:
                out += blocks.delta("thinking", {"type": "thinking", "thinking": "",
                                                 "signature": ""},
                                    {"type": "thinking_delta", "thinking": delta.reasoning})
            if delta.text:
                out += blocks.delta("text", {"type": "text", "text": ""},
                                    {"type": "text_delta", "text": delta.text})
            for fragment in delta.tool_calls:
                out += blocks.tool(fragment)
            for chunk in out:
                yield chunk
            finish_reason = delta.finish_reason or finish_reason
            usage = delta.usage or usage
    except (OperationalError, InterfaceError) as exc:  # recording it: a database restart
        log.warning("generation %s: database unavailable in its stream: %s",
                    admission.generation.pk, exc)
        yield event("error", {"error": {
            "type": "overloaded_error", "code": "database_unavailable",
            "message": "The database is unavailable for a moment; retry shortly."}})
        return
    except Exception as exc:  # whatever killed the engine, the client is told
        log.info("generation %s: stream ended by an engine error", admission.generation.pk)
        yield event("error", {"error": {
            "type": "api_error", "code": "engine_failed_mid_stream",
            "message": f"The engine {streaming.engine} failed after the answer began: {exc}"}})
        return
    for chunk in blocks.close():
        yield chunk
    final = usage or Usage(estimate, 0)
    yield event("message_delta", {
        "delta": {"stop_reason": answer.stop_reason(finish_reason, bool(blocks.calls)),
                  "stop_sequence": None},
        "usage": {"input_tokens": final.prompt_tokens,
                  "output_tokens": final.completion_tokens}})
    yield event("message_stop", {})
