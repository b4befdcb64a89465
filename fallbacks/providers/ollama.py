"""Ollama's native API.

Wire format: https://github.com/ollama/ollama/blob/main/docs/api.md — `POST /api/chat` with
`options` for sampling, an answer carrying `prompt_eval_count` / `eval_count` for usage, and
streaming as newline-delimited JSON objects, the last one with `"done": true`. Errors come as
`{"error": "..."}` with an HTTP status (docs.ollama.com/api/errors), and an error that
happens mid-stream arrives as one more NDJSON line `{"error": "..."}` under the 200 already
sent. A stream that ends before `"done": true` was cut. `base_url` is the server root
(`http://127.0.0.1:11434`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fallbacks.errors import Failure, ProviderError
from fallbacks.providers.base import (
    Provider,
    classify_response,
    json_object,
    translate_errors,
)
from fallbacks.providers.registry import register
from fallbacks.spec import ChatRequest, Completion, Delta, Usage
from fallbacks.text import clean_output


def chat_body(model: str, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"num_predict": request.max_tokens}
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed")):
        if (value := getattr(request, ours)) is not None:
            options[theirs] = value
    if request.stop:
        options["stop"] = list(request.stop)
    return {
        "model": model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": stream,
        "options": options,
    }


def usage_of(data: dict[str, Any]) -> Usage:
    try:
        return Usage(int(data.get("prompt_eval_count") or 0), int(data.get("eval_count") or 0))
    except (TypeError, ValueError):
        return Usage()  # counts are bookkeeping; an unreadable one must not lose the answer


def finish_of(data: dict[str, Any]) -> str:
    return "length" if data.get("done_reason") == "length" else "stop"


def error_of(data: dict[str, Any]) -> ProviderError | None:
    """Ollama's in-band `{"error": "..."}`, classified as if it came with a 500."""
    if "error" not in data:
        return None
    return classify_response(500, {}, json.dumps({"error": data["error"]}))


def text_of(data: dict[str, Any]) -> str:
    message = data.get("message")
    if message is None and data.get("done"):
        return ""
    if not isinstance(message, dict) or not isinstance(message.get("content", ""), str):
        raise ProviderError(Failure.BAD_RESPONSE, "no message.content in answer")
    return clean_output(message.get("content") or "")


@register
class Ollama(Provider):
    name = "ollama"
    label = "Ollama (native API)"

    async def complete(self, request: ChatRequest) -> Completion:
        data = json_object(await self.post_json("api/chat", chat_body(self.engine.model, request,
                                                                      stream=False)))
        if err := error_of(data):
            raise err
        if "message" not in data:
            raise ProviderError(Failure.BAD_RESPONSE, "no message in answer")
        return Completion(text=text_of(data), finish_reason=finish_of(data),
                          usage=usage_of(data), engine=self.engine.name)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        body = chat_body(self.engine.model, request, stream=True)
        async with self.open_stream("POST", "api/chat", body) as response:
            with translate_errors():
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    try:
                        data = json_object(json.loads(line), "NDJSON line")
                    except ValueError as exc:
                        raise ProviderError(Failure.BAD_RESPONSE, "bad NDJSON line") from exc
                    if err := error_of(data):
                        raise err
                    text = text_of(data)
                    if data.get("done"):
                        yield Delta(text=text, finish_reason=finish_of(data),
                                    usage=usage_of(data))
                        return
                    if text:
                        yield Delta(text=text)
        raise ProviderError(Failure.CONNECT, "stream ended before done")

    async def probe(self) -> None:
        with translate_errors():
            response = await self.client.get(self.url("api/version"), headers=self.headers(),
                                             timeout=self.timeout())
        if response.status_code >= 400:
            raise classify_response(response.status_code, response.headers, response.text)
