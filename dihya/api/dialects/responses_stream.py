"""The Responses API's stream: the pipeline's deltas as OpenAI's semantic events.

`response.created`, `response.in_progress`; then per output item `response.output_item.added`,
its content (`response.content_part.added`, `response.output_text.delta`…`.done`,
`response.content_part.done` for a message; `response.function_call_arguments.delta`/`.done`
for a call; `response.reasoning_text.delta`/`.done` for the model's reasoning),
`response.output_item.done`; and `response.completed` (or `response.incomplete`) with the
whole Response and its usage. Every event has an increasing `sequence_number`. An engine that
dies after the first event gets an `error` event and `response.failed`: too late to fall back.

Must stay an async generator (Django streams those under ASGI; a sync one is collected whole).
A custom tool's input is sent whole when its call ends: the engine writes it as a JSON string,
whose raw text cannot be cut out reliably before the string is closed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dihya.api.dialects.responses_out import (
    Answering,
    call_item,
    custom_input,
    message_item,
    reasoning_item,
    response_body,
    text_part,
)
from dihya.generation.pipeline import Streaming
from fallbacks.spec import ToolCall, ToolCallDelta, Usage

log = logging.getLogger(__name__)
#: One encoder for every event (`json.dumps` with options builds one per call).
encode = json.JSONEncoder(separators=(",", ":")).encode


@dataclass
class Call:
    output_index: int
    item_id: str
    call_id: str
    name: str
    arguments: str = ""


@dataclass
class Events:
    """The stream's state: what is open, what is done, the next sequence number."""

    a: Answering
    sequence: int = 0
    output: list[dict[str, Any]] = field(default_factory=list)
    text: tuple[int, str, list[str]] | None = None  # output index, item id, pieces
    reasoning: tuple[int, str, list[str]] | None = None
    calls: dict[int, Call] = field(default_factory=dict)

    def event(self, kind: str, **payload: Any) -> bytes:
        body = {"type": kind, "sequence_number": self.sequence, **payload}
        self.sequence += 1
        return f"event: {kind}\ndata: {encode(body)}\n\n".encode()

    def open_item(self, item: dict[str, Any]) -> tuple[int, bytes]:
        self.output.append(item)
        index = len(self.output) - 1
        return index, self.event("response.output_item.added", output_index=index, item=item)

    def done_item(self, index: int, item: dict[str, Any]) -> bytes:
        self.output[index] = item
        return self.event("response.output_item.done", output_index=index, item=item)

    # --- reasoning, text, calls --------------------------------------------------------------
    def reasoning_delta(self, piece: str) -> list[bytes]:
        out = []
        if self.reasoning is None:
            index, added = self.open_item(reasoning_item(self.a.new_id("rs"), ""))
            self.reasoning = (index, self.output[index]["id"], [])
            out.append(added)
        index, item_id, pieces = self.reasoning
        pieces.append(piece)
        out.append(self.event("response.reasoning_text.delta", item_id=item_id,
                              output_index=index, content_index=0, delta=piece))
        return out

    def close_reasoning(self) -> list[bytes]:
        if self.reasoning is None:
            return []
        index, item_id, pieces = self.reasoning
        self.reasoning = None
        text = "".join(pieces)
        return [self.event("response.reasoning_text.done", item_id=item_id, output_index=index,
                           content_index=0, text=text),
                self.done_item(index, reasoning_item(item_id, text))]

    def text_delta(self, piece: str) -> list[bytes]:
        out = self.close_reasoning()
        if self.text is None:
            index, added = self.open_item(message_item(self.a.new_id("msg"), "", "in_progress"))
            item_id = self.output[index]["id"]
            self.text = (index, item_id, [])
            out += [added, self.event("response.content_part.added", item_id=item_id,
                                      output_index=index, content_index=0,
                                      part=text_part(""))]
        index, item_id, pieces = self.text
        if not piece:
            return out
        pieces.append(piece)
        out.append(self.event("response.output_text.delta", item_id=item_id,
                              output_index=index, content_index=0, delta=piece, logprobs=[]))
        return out

    def close_text(self, status: str) -> list[bytes]:
        if self.text is None:
            return []
        index, item_id, pieces = self.text
        self.text = None
        text = "".join(pieces)
        return [self.event("response.output_text.done", item_id=item_id, output_index=index,
                           content_index=0, text=text, logprobs=[]),
                self.event("response.content_part.done", item_id=item_id, output_index=index,
                           content_index=0, part=text_part(text)),
                self.done_item(index, message_item(item_id, text, status))]

    def custom(self, name: str) -> bool:
        return self.a.translation.tools.named(name).kind == "custom"

    def call_delta(self, f: ToolCallDelta) -> list[bytes]:
        out = self.close_reasoning() + self.close_text("completed")
        call = self.calls.get(f.index)
        if call is None:
            name = f.name or ""
            item_id = self.a.new_id("ctc" if self.custom(name) else "fc")
            call_id = f.id or f"call_{self.a.generation_hex[:24]}_{f.index}"
            item = call_item(self.a, item_id, ToolCall(call_id, name, ""), "in_progress")
            index, added = self.open_item(item)
            call = self.calls[f.index] = Call(index, item_id, call_id, name)
            out.append(added)
        if f.arguments:
            call.arguments += f.arguments
            if not self.custom(call.name):
                out.append(self.event("response.function_call_arguments.delta",
                                      item_id=call.item_id, output_index=call.output_index,
                                      delta=f.arguments))
        return out

    def close_calls(self) -> list[bytes]:
        out = []
        for call in self.calls.values():
            item = call_item(self.a, call.item_id, ToolCall(call.call_id, call.name,
                                                            call.arguments))
            where = {"item_id": call.item_id, "output_index": call.output_index}
            if self.custom(call.name):
                raw = custom_input(call.arguments)
                out += [self.event("response.custom_tool_call_input.delta", **where, delta=raw),
                        self.event("response.custom_tool_call_input.done", **where, input=raw)]
            else:
                out.append(self.event("response.function_call_arguments.done", **where,
                                      name=item["name"], arguments=call.arguments))
            out.append(self.done_item(call.output_index, item))
        self.calls = {}
        return out


async def events(a: Answering, streaming: Streaming,
                 keep: Callable[[dict[str, Any]], Awaitable[None]]) -> AsyncIterator[bytes]:
    """The SSE stream of one response; `keep` stores the final Response (when `store`) before
    the last event, so that a client continuing from it at once finds it."""
    e = Events(a)
    yield e.event("response.created", response=response_body(a, status="in_progress",
                                                              output=[]))
    yield e.event("response.in_progress", response=response_body(a, status="in_progress",
                                                                  output=[]))
    usage, finish_reason = Usage(0, 0), "stop"
    try:
        async for delta in streaming.deltas:
            if delta.reasoning:
                for chunk in e.reasoning_delta(delta.reasoning):
                    yield chunk
            if delta.text:
                for chunk in e.text_delta(delta.text):
                    yield chunk
            for f in delta.tool_calls:
                for chunk in e.call_delta(f):
                    yield chunk
            finish_reason = delta.finish_reason or finish_reason
            usage = delta.usage or usage
    except Exception as exc:  # the engine (or the database) failed after the answer began
        log.info("generation %s: response stream ended by an error", a.generation_hex)
        message = f"The engine {streaming.engine} failed after the answer began: {exc}"
        error = {"code": "engine_failed_mid_stream", "message": message}
        yield e.event("error", code=error["code"], message=message, param=None)
        yield e.event("response.failed", response=response_body(
            a, status="failed", output=e.output, error=error))
        return
    incomplete = finish_reason in ("length", "content_filter")
    if not e.output and not e.calls:
        for chunk in e.text_delta(""):  # an empty answer is still one message
            yield chunk
    for chunk in [*e.close_reasoning(), *e.close_text("incomplete" if incomplete else
                                                     "completed"), *e.close_calls()]:
        yield chunk
    final = response_body(a, status="completed", output=e.output, usage=usage,
                          finish_reason=finish_reason)
    try:
        await keep(final)
    except Exception:  # the answer is whole; only its stored copy is missing
        log.exception("generation %s: response not stored", a.generation_hex)
    yield e.event("response.incomplete" if final["status"] == "incomplete"
                  else "response.completed", response=final)
