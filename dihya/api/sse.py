"""OpenAI's answer formats: the chat.completion object and the chat.completion.chunk SSE stream.

Only formatting lives here; the pipeline decides which engine runs and records how it went.
The stream must end either with `data: [DONE]` or, when the engine dies after the first token
(too late to fall back), with one `data: {"error": …}` event, which OpenAI's SDKs raise as an
APIError.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from django.db import InterfaceError, OperationalError

from dihya.generation.pipeline import Admission, Streaming
from fallbacks.runner import RunResult
from fallbacks.spec import Usage

log = logging.getLogger(__name__)


def completion_id(admission: Admission) -> str:
    return "chatcmpl-" + admission.generation.pk.hex


def usage_body(usage: Usage) -> dict[str, int]:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens}


def completion(admission: Admission, result: RunResult) -> dict[str, Any]:
    c = result.completion
    return {
        "id": completion_id(admission),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": admission.route.name,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": c.text},
                     "finish_reason": c.finish_reason or "stop"}],
        "usage": usage_body(c.usage),
    }


def event(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


async def chunks(admission: Admission, streaming: Streaming) -> AsyncIterator[bytes]:
    """Relay the pipeline's deltas as OpenAI chunks. Must be an async generator: Django streams
    those under ASGI, while a sync one would be collected whole before the first byte."""
    base = {"id": completion_id(admission), "object": "chat.completion.chunk",
            "created": int(time.time()), "model": admission.route.name}
    with_usage = admission.include_usage

    def chunk(delta: dict[str, str], finish_reason: str | None = None) -> bytes:
        body: dict[str, Any] = {**base, "choices": [
            {"index": 0, "delta": delta, "finish_reason": finish_reason}]}
        if with_usage:
            body["usage"] = None
        return event(body)

    usage = Usage(0, 0)
    finish_reason = "stop"
    first = True
    try:
        async for delta in streaming.deltas:
            if first:
                yield chunk({"role": "assistant", "content": delta.text})
                first = False
            elif delta.text:
                yield chunk({"content": delta.text})
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
    yield chunk({}, finish_reason)
    if with_usage:
        yield event({**base, "choices": [], "usage": usage_body(usage)})
    yield event("[DONE]")
