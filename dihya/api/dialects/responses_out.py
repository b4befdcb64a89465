"""The Responses API's answer: the Response object and its output items.

Shared by the non-streamed answer and the stream (whose `response.created` and
`response.completed` events carry the same object). Ids are derived from the generation's, so
an answer, its items and the stored copy name each other without a table of their own:
`resp_<generation>`, `msg_<generation>_<n>`, `fc_<generation>_<n>`. A tool call to a `custom`
tool becomes a `custom_tool_call` item with its raw `input` again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from dihya.api.dialects.responses import ResponsesBody, Translation
from dihya.api.dialects.responses_tools import CUSTOM_INPUT
from fallbacks.spec import Completion, ToolCall, Usage

#: Why an answer is incomplete, by the engine's finish reason.
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


@dataclass
class Answering:
    """One response being answered: what its items and its final object are made of."""

    generation_hex: str
    body: ResponsesBody
    translation: Translation
    model: str
    created_at: int = field(default_factory=lambda: int(time.time()))
    items_made: int = 0

    @property
    def id(self) -> str:
        return "resp_" + self.generation_hex

    def new_id(self, prefix: str) -> str:
        self.items_made += 1
        return f"{prefix}_{self.generation_hex}_{self.items_made}"


def usage_body(usage: Usage) -> dict[str, Any]:
    return {"input_tokens": usage.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": usage.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": usage.prompt_tokens + usage.completion_tokens}


def response_body(a: Answering, *, status: str, output: list[dict[str, Any]],
                  usage: Usage | None = None, finish_reason: str | None = None,
                  error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Response object, echoing what the client asked as OpenAI's does."""
    b = a.body
    reason = INCOMPLETE.get(finish_reason or "")
    if status == "completed" and reason:
        status = "incomplete"
    return {
        "id": a.id, "object": "response", "created_at": a.created_at, "status": status,
        "background": False, "error": error,
        "incomplete_details": {"reason": reason} if status == "incomplete" else None,
        "instructions": b.instructions, "max_output_tokens": b.max_output_tokens,
        "max_tool_calls": None, "model": a.model, "output": output,
        "parallel_tool_calls": b.parallel_tool_calls is not False,
        "previous_response_id": b.previous_response_id,
        "prompt_cache_key": b.prompt_cache_key,
        "reasoning": {"effort": (b.reasoning or {}).get("effort"),
                      "summary": (b.reasoning or {}).get("summary")},
        "safety_identifier": b.safety_identifier, "service_tier": b.service_tier or "default",
        "store": b.store, "temperature": b.temperature,
        "text": {"format": {"type": "text"}, "verbosity": "medium", **(b.text or {})},
        "tool_choice": b.tool_choice if b.tool_choice is not None else "auto",
        "tools": b.tools or [], "top_logprobs": b.top_logprobs or 0, "top_p": b.top_p,
        "truncation": b.truncation or "disabled",
        "usage": usage_body(usage) if usage is not None else None,
        "user": b.user, "metadata": b.metadata or {},
    }


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "message", "status": status, "role": "assistant",
            "content": [text_part(text)] if status != "in_progress" else []}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "summary": [],
            "content": [{"type": "reasoning_text", "text": text}] if text else []}


def custom_input(arguments: str) -> str:
    """A custom tool's raw input, from the one-argument function the engine called."""
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError:
        return arguments
    value = parsed.get(CUSTOM_INPUT) if isinstance(parsed, dict) else None
    return value if isinstance(value, str) else arguments


def call_item(a: Answering, item_id: str, call: ToolCall, status: str = "completed"
              ) -> dict[str, Any]:
    named = a.translation.tools.named(call.name)
    item: dict[str, Any] = {"id": item_id, "call_id": call.id, "name": named.name}
    if named.kind == "custom":
        item.update(type="custom_tool_call", input=custom_input(call.arguments)
                    if status == "completed" else "")
    else:
        item.update(type="function_call", arguments=call.arguments
                    if status == "completed" else "")
    if named.namespace:
        item["namespace"] = named.namespace
    item["status"] = status
    return item


def output_of(a: Answering, c: Completion) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = []
    if c.reasoning:
        output.append(reasoning_item(a.new_id("rs"), c.reasoning))
    status = "incomplete" if c.finish_reason in INCOMPLETE else "completed"
    if c.text or not c.tool_calls:
        output.append(message_item(a.new_id("msg"), c.text, status))
    for call in c.tool_calls:
        output.append(call_item(a, a.new_id("fc" if a.translation.tools.named(
            call.name).kind == "function" else "ctc"), call))
    return output


def completed(a: Answering, c: Completion) -> dict[str, Any]:
    """The non-streamed answer."""
    return response_body(a, status="completed", output=output_of(a, c), usage=c.usage,
                         finish_reason=c.finish_reason)
