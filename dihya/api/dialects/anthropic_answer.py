"""Anthropic's Messages API at the edge, the way back: the pipeline's answer as a `message`,
refusals as Anthropic's errors, routes as Anthropic's model objects. The request's way in is
`anthropic`, the stream `anthropic_stream`.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest

from dihya.generation.errors import Refusal
from dihya.generation.pipeline import Admission
from fallbacks.runner import RunResult
from fallbacks.spec import Completion, ToolCall, Usage

log = logging.getLogger(__name__)


# --- the answer ------------------------------------------------------------------------------
def message_id(admission: Admission) -> str:
    return "msg_" + admission.generation.pk.hex


def stop_reason(finish_reason: str | None, tool_calls: bool) -> str:
    """Chat's finish_reason as Anthropic's stop_reason. A stop sequence cannot be told from a
    natural end (engines say `stop` for both): it is `end_turn`."""
    if tool_calls and finish_reason in (None, "stop", "tool_calls", "function_call"):
        return "tool_use"
    return {"length": "max_tokens", "content_filter": "refusal"}.get(finish_reason or "",
                                                                      "end_turn")


def usage_of(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def tool_input(call: ToolCall) -> dict[str, Any]:
    """The arguments as the object Anthropic's `input` is; `{}` when the engine wrote none."""
    try:
        value = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        log.info("tool call %s: arguments are not JSON; answered as {}", call.id)
        return {}
    return value if isinstance(value, dict) else {}


def tool_id(admission: Admission, call_id: str | None, index: int) -> str:
    return call_id or f"toolu_{admission.generation.pk.hex[:16]}{index}"


def blocks_of(admission: Admission, c: Completion, *, thinking: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if thinking and c.reasoning:
        blocks.append({"type": "thinking", "thinking": c.reasoning, "signature": ""})
    if c.text:
        blocks.append({"type": "text", "text": c.text})
    blocks += [{"type": "tool_use", "id": tool_id(admission, t.id, i), "name": t.name,
                "input": tool_input(t)} for i, t in enumerate(c.tool_calls)]
    return blocks


def message(admission: Admission, result: RunResult, model: str, *,
            thinking: bool) -> dict[str, Any]:
    c = result.completion
    return {"id": message_id(admission), "type": "message", "role": "assistant", "model": model,
            "content": blocks_of(admission, c, thinking=thinking),
            "stop_reason": stop_reason(c.finish_reason, bool(c.tool_calls)),
            "stop_sequence": None, "usage": usage_of(c.usage)}


# --- errors ----------------------------------------------------------------------------------
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
               409: "invalid_request_error", 413: "request_too_large",
               429: "rate_limit_error", 503: "overloaded_error", 529: "overloaded_error"}


def speaks_anthropic(request: HttpRequest) -> bool:
    """Errors of /v1/messages…, and of any /v1 call made by an Anthropic client (it sends
    `anthropic-version`), are answered in Anthropic's shape."""
    return request.path.startswith("/v1/messages") or (
        request.path.startswith("/v1/") and "anthropic-version" in request.headers)


def error_body(refusal: Refusal) -> dict[str, Any]:
    """`{"type": "error", "error": {"type", "message"}}`, keeping our stable `code` and the
    `param` at fault beside them (extra fields Anthropic's clients ignore)."""
    return {"type": "error", "error": {
        "type": ERROR_TYPES.get(refusal.status, "api_error"), "message": refusal.message,
        "code": refusal.code, "param": refusal.param}}


# --- models ----------------------------------------------------------------------------------
def model_of(route: dict[str, Any]) -> dict[str, Any]:
    created = datetime.fromtimestamp(int(route["created"]), tz=UTC)
    return {"type": "model", "id": route["id"], "display_name": route["id"],
            "created_at": created.isoformat().replace("+00:00", "Z")}


def model_list(routes: list[dict[str, Any]]) -> dict[str, Any]:
    data = [model_of(r) for r in routes]
    return {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}
