"""Ollama's native API.

Wire format: https://github.com/ollama/ollama/blob/main/docs/api.md — `POST /api/chat` with
`options` for sampling, an answer carrying `prompt_eval_count` / `eval_count` for usage, and
streaming as newline-delimited JSON objects, the last one with `"done": true`. Errors come as
`{"error": "..."}` with an HTTP status (docs.ollama.com/api/errors), and an error that
happens mid-stream arrives as one more NDJSON line `{"error": "..."}` under the 200 already
sent. A stream that ends before `"done": true` was cut. `base_url` is the server root
(`http://127.0.0.1:11434`).

Tools: Ollama takes OpenAI's `tools`, but tool-call arguments are JSON objects (not text),
a tool result is `{"role": "tool", "content", "tool_name"}` (the function's name, not a call
id), calls come back without ids (we make OpenAI-style `call_…` ids) and whole in one stream
line, and `done_reason` stays `stop` after a tool call (we say `tool_calls`). Structured
output is `format` ("json" or the JSON schema itself); images are base64 strings in the
message's `images`; `think` turns reasoning on, answered as `message.thinking`. What it has
no spelling for (`logit_bias`, `logprobs`, a forced `tool_choice`, audio, image URLs that
are not data URLs) is `unsupported` on this engine, never sent without a word.

Embeddings: `POST /api/embed` with `{"model", "input": [texts], "truncate", "dimensions"?}`,
answered `{"model", "embeddings": [[floats], …], "prompt_eval_count"}` in input order. We send
`truncate: false`: Ollama's default cuts a long input silently, where OpenAI refuses it, and a
vector of half a document is a wrong search result (too long is then a context error). Ollama
takes text only: token arrays are `unsupported` here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fallbacks.errors import Failure, ProviderError
from fallbacks.providers.base import (
    Provider,
    classify_response,
    json_object,
    translate_errors,
)
from fallbacks.providers.lines import Lines
from fallbacks.providers.openai_wire import finish_reason
from fallbacks.providers.registry import register
from fallbacks.spec import (
    ChatRequest,
    Completion,
    Delta,
    EmbeddingRequest,
    Embeddings,
    Message,
    Part,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from fallbacks.text import clean_output


def chat_body(model: str, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    options: dict[str, Any] = {"num_predict": request.max_tokens}
    for key in ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty"):
        if (value := getattr(request, key)) is not None:
            options[key] = value
    if request.stop:
        options["stop"] = list(request.stop)
    for field, set_ in (("logit_bias", bool(request.logit_bias)), ("logprobs", request.logprobs),
                        ("tool_choice", request.tool_choice in ("required", "function"))):
        if set_:
            raise ProviderError(Failure.UNSUPPORTED, f"Ollama's native API has no {field}")
    body: dict[str, Any] = {
        "model": model,
        "messages": messages_body(request.messages),
        "stream": stream,
        "options": options,
    }
    if request.tools and request.tool_choice != "none":
        body["tools"] = [tool_body(t) for t in request.tools]
    if (rf := request.response_format) is not None and rf.type != "text":
        body["format"] = rf.schema if rf.type == "json_schema" and rf.schema else "json"
    if request.reasoning_effort is not None:
        # `think`: true/false, or a level for the models that take one (gpt-oss).
        body["think"] = (False if request.reasoning_effort == "none"
                         else request.reasoning_effort if request.reasoning_effort in LEVELS
                         else True)
    return body


LEVELS = ("low", "medium", "high")


def messages_body(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """OpenAI's messages in Ollama's terms: tool-call arguments as objects, a tool result
    named by its function (`tool_name`, found from the call it answers), images as base64."""
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    out = []
    for m in messages:
        body: dict[str, Any] = {"role": m.role, "content": m.content}
        if m.tool_calls:
            body["tool_calls"] = [{"function": {"name": c.name,
                                                "arguments": arguments_object(c.arguments)}}
                                  for c in m.tool_calls]
        if m.role == "tool" and m.tool_call_id is not None:
            body["tool_name"] = names.get(m.tool_call_id, m.name or "")
        if m.parts:
            body["images"] = [image_base64(p) for p in m.parts]
        out.append(body)
    return out


def arguments_object(arguments: str) -> Any:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}  # what the model wrote was not JSON: Ollama wants an object
    return value if isinstance(value, dict) else {}


def image_base64(part: Part) -> str:
    if part.type != "image_url":
        raise ProviderError(Failure.UNSUPPORTED, "Ollama's native API takes no audio")
    if not part.url.startswith("data:") or ";base64," not in part.url:
        # We never fetch a client's URL for an engine (SSRF): another engine may take it.
        raise ProviderError(Failure.UNSUPPORTED, "Ollama takes images as base64 data only")
    return part.url.partition(";base64,")[2]


def tool_body(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.parameters or {
        "type": "object", "properties": {}}}
    if tool.description is not None:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def tool_calls_of(message: dict[str, Any]) -> tuple[ToolCall, ...]:
    """Ollama's calls with OpenAI ids (Ollama gives none, or its own) and JSON-text arguments."""
    calls = message.get("tool_calls") or []
    found = []
    try:
        for call in calls:
            function = call["function"]
            arguments = function.get("arguments")
            call_id = str(call.get("id") or "call_" + uuid.uuid4().hex[:24])
            found.append(ToolCall(clean_output(call_id),
                                  clean_output(str(function["name"])),
                                  clean_output(arguments if isinstance(arguments, str)
                                               else json.dumps(arguments or {}))))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ProviderError(Failure.BAD_RESPONSE, "a tool call without function.name") from exc
    return tuple(found)


def usage_of(data: dict[str, Any]) -> Usage:
    try:
        return Usage(int(data.get("prompt_eval_count") or 0), int(data.get("eval_count") or 0))
    except (TypeError, ValueError):
        return Usage()  # counts are bookkeeping; an unreadable one must not lose the answer


def finish_of(data: dict[str, Any], *, tool_calls: bool = False) -> str:
    """Ollama's done_reason (stop, length, load, unload) in OpenAI's set."""
    return finish_reason(data.get("done_reason"), tool_calls=tool_calls)


def error_of(data: dict[str, Any]) -> ProviderError | None:
    """Ollama's in-band `{"error": "..."}`, classified as if it came with a 500."""
    if "error" not in data:
        return None
    return classify_response(500, {}, json.dumps({"error": data["error"]}))


def embed_body(model: str, request: EmbeddingRequest) -> dict[str, Any]:
    if not all(isinstance(i, str) for i in request.inputs):
        raise ProviderError(Failure.UNSUPPORTED, "Ollama embeds text only, not token arrays")
    body: dict[str, Any] = {"model": model, "input": list(request.inputs), "truncate": False}
    if request.dimensions:
        body["dimensions"] = request.dimensions
    return body


def embeddings_of(data: dict[str, Any], engine: str) -> Embeddings:
    if err := error_of(data):
        raise err
    try:
        vectors = tuple(tuple(float(x) for x in vector) for vector in data["embeddings"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError(Failure.BAD_RESPONSE, "no embeddings[] floats in answer") from exc
    model = data.get("model")
    return Embeddings(vectors=vectors, usage=Usage(usage_of(data).prompt_tokens, 0),
                      engine=engine, model=model if isinstance(model, str) else "")


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
    capabilities = frozenset({"chat", "tools", "json_schema"})

    async def complete(self, request: ChatRequest) -> Completion:
        data = json_object(await self.post_json("api/chat", chat_body(self.engine.model, request,
                                                                      stream=False)))
        if err := error_of(data):
            raise err
        if "message" not in data:
            raise ProviderError(Failure.BAD_RESPONSE, "no message in answer")
        message = data["message"] if isinstance(data["message"], dict) else {}
        calls = tool_calls_of(message)
        return Completion(text=text_of(data), finish_reason=finish_of(data, tool_calls=bool(calls)),
                          usage=usage_of(data), engine=self.engine.name, tool_calls=calls,
                          reasoning=clean_output(str(message.get("thinking") or "")))

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        body = chat_body(self.engine.model, request, stream=True)
        calls = 0
        async with self.open_stream("POST", "api/chat", body) as response:
            lines = Lines()
            with translate_errors():
                async for received in response.aiter_bytes():
                    for delta in self._deltas(lines.feed(received), calls):
                        if delta is None:
                            return
                        calls += len(delta.tool_calls)
                        yield delta
                for delta in self._deltas(lines.end(), calls):  # a last line without its end
                    if delta is None:
                        return
                    calls += len(delta.tool_calls)
                    yield delta
        raise ProviderError(Failure.CONNECT, "stream ended before done")

    def _deltas(self, lines: list[str], calls: int) -> Iterator[Delta | None]:
        """The deltas `lines` complete (`calls` tool calls begun before them); after the
        one that is done, None."""
        for line in lines:
            if not line.strip():
                continue
            try:
                data = json_object(json.loads(line), "NDJSON line")
            except ValueError as exc:
                raise ProviderError(Failure.BAD_RESPONSE, "bad NDJSON line") from exc
            if err := error_of(data):
                raise err
            text = text_of(data)
            message = data.get("message") or {}
            # Ollama sends each tool call whole, in one line: one fragment each.
            found = tuple(ToolCallDelta(calls + i, c.id, c.name, c.arguments)
                          for i, c in enumerate(tool_calls_of(message)))
            calls += len(found)
            thinking = clean_output(str(message.get("thinking") or ""))
            if data.get("done"):
                yield Delta(text=text, finish_reason=finish_of(data, tool_calls=calls > 0),
                            usage=usage_of(data), tool_calls=found, reasoning=thinking)
                yield None
                return
            if text or found or thinking:
                yield Delta(text=text, tool_calls=found, reasoning=thinking)

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        body = embed_body(self.engine.model, request)
        return embeddings_of(json_object(await self.post_json("api/embed", body)),
                             self.engine.name)

    async def probe(self) -> None:
        with translate_errors():
            response = await self.client.get(self.url("api/version"), headers=self.headers(),
                                             timeout=self.timeout())
        if response.status_code >= 400:
            raise classify_response(response.status_code, response.headers, response.text)

    async def models(self) -> list[str] | None:
        data = json_object(await self.get_json("api/tags"), "model list")
        listed = data.get("models")
        if not isinstance(listed, list):
            return None
        return [str(m["name"]) for m in listed if isinstance(m, dict) and "name" in m]
