"""OpenAI-compatible chat completions: llama.cpp server, vLLM, LM Studio, Ollama's /v1, Groq…

Wire format: https://platform.openai.com/docs/api-reference/chat. `base_url` ends where the
OpenAI paths begin (usually `/v1`). Streaming is server-sent events, one JSON chunk per
`data:` line, closed by `data: [DONE]`; with `stream_options.include_usage` the last chunk
before `[DONE]` carries `usage` and an empty `choices`. A stream that ends without `[DONE]`
was cut, whatever it said before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any, ClassVar

from fallbacks.errors import Failure, ProviderError
from fallbacks.providers.base import (
    Provider,
    classify_response,
    in_band_error,
    json_object,
    translate_errors,
)
from fallbacks.providers.lines import Lines
from fallbacks.providers.openai_wire import (
    Dialect,
    finish_reason,
    reasoning_of,
    tool_call_deltas,
    tool_calls_of,
)
from fallbacks.providers.registry import register
from fallbacks.spec import (
    ChatRequest,
    Completion,
    Delta,
    EmbeddingRequest,
    Embeddings,
    ToolCallDelta,
    Usage,
)
from fallbacks.text import clean_output


def chat_body(model: str, request: ChatRequest, *, stream: bool,
              dialect: Dialect | None = None, usage_in_stream: bool = True) -> dict[str, Any]:
    dialect = dialect or Dialect()
    body: dict[str, Any] = {
        "model": model,
        "messages": [dialect.message(m) for m in request.messages],
        "max_tokens": request.max_tokens,
        "stream": stream,
    }
    if stream and usage_in_stream:
        body["stream_options"] = {"include_usage": True}
    for key, field in (("temperature", "temperature"), ("top_p", "top_p"),
                       ("seed", dialect.seed_field)):
        if (value := getattr(request, key)) is not None:
            body[field] = value
    if request.stop:
        body["stop"] = list(request.stop)
    dialect.extras(request, body)
    return body


def new_call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def with_ids(delta: Delta, seen: set[int]) -> Delta:
    """The first fragment of each tool call carries an id (some servers send none)."""
    if not delta.tool_calls:
        return delta
    fragments = []
    for f in delta.tool_calls:
        if f.index not in seen:
            seen.add(f.index)
            f = f if f.id else replace(f, id=new_call_id())
        fragments.append(f)
    return replace(delta, tool_calls=tuple(fragments))


def parse_usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    try:
        return Usage(int(data.get("prompt_tokens") or 0), int(data.get("completion_tokens") or 0))
    except (TypeError, ValueError):
        return None


def embeddings_of(data: dict[str, Any], engine: str) -> Embeddings:
    """OpenAI's embeddings list, in input order (`index` says it; servers may reorder)."""
    if err := in_band_error(data):
        raise err
    try:
        items = sorted(data["data"], key=lambda item: int(item.get("index", 0)))
        vectors = tuple(tuple(float(x) for x in item["embedding"]) for item in items)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProviderError(Failure.BAD_RESPONSE, "no data[].embedding floats in answer") from exc
    usage = parse_usage(data.get("usage")) or Usage()
    model = data.get("model")
    return Embeddings(vectors=vectors, usage=Usage(usage.prompt_tokens, 0), engine=engine,
                      model=model if isinstance(model, str) else "")


def chunk_of(payload: str) -> dict[str, Any]:
    """One `data:` payload of the stream as its JSON object; an in-band error raised."""
    try:
        chunk = json.loads(payload)
    except ValueError as exc:
        raise ProviderError(Failure.BAD_RESPONSE, "bad SSE chunk") from exc
    if type(chunk) is not dict:
        raise ProviderError(Failure.BAD_RESPONSE, "SSE chunk is not a JSON object")
    if "error" in chunk and (err := in_band_error(chunk)):
        raise err
    return chunk


def content_text(content: Any) -> str:
    """Message content as text: a string, or (Mistral, newer OpenAI) a list of typed parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text") or "") for part in content
                       if isinstance(part, dict) and part.get("type", "text") == "text")
    raise ProviderError(Failure.BAD_RESPONSE, "message content is neither text nor parts")


@register
class OpenAICompatible(Provider):
    name = "openai"
    label = "OpenAI-compatible (llama.cpp, vLLM, LM Studio, Ollama /v1…)"
    # Tools need llama.cpp's --jinja or vLLM's tool parser; an engine without them answers a
    # capability error, which the runner treats as `unsupported` (next engine).
    capabilities = frozenset({"chat", "tools", "json_schema", "logprobs"})
    chat_path: ClassVar[str] = "chat/completions"
    models_path: ClassVar[str] = "models"
    embeddings_path: ClassVar[str] = "embeddings"
    #: How the body names the vector length asked for (Mistral: `output_dimension`).
    dimensions_field: ClassVar[str] = "dimensions"
    #: Whether `input` may hold token arrays (OpenAI, llama.cpp, vLLM; Mistral: text only).
    token_inputs: ClassVar[bool] = True
    #: How this API spells what OpenAI spells (Mistral's differs).
    dialect: ClassVar[Dialect] = Dialect()
    #: Whether to ask for the final usage chunk (`stream_options`); some servers reject it.
    usage_in_stream: ClassVar[bool] = True

    def body(self, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        return chat_body(self.engine.model, request, stream=stream, dialect=self.dialect,
                         usage_in_stream=self.usage_in_stream)

    async def complete(self, request: ChatRequest) -> Completion:
        data = json_object(await self.post_json(self.chat_path, self.body(request, stream=False)))
        return self.completion(data)

    def completion(self, data: dict[str, Any]) -> Completion:
        if err := in_band_error(data):
            raise err
        try:
            choice = data["choices"][0]
            message = choice["message"]
            text = clean_output(content_text(message.get("content")))
            calls = tool_calls_of(message)
            logprobs = choice.get("logprobs")
            refusal = message.get("refusal")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderError(Failure.BAD_RESPONSE, "no choices[0].message in answer") from exc
        usage = parse_usage(data.get("usage")) or Usage()
        return Completion(text=text, engine=self.engine.name, usage=usage,
                          finish_reason=finish_reason(choice.get("finish_reason"),
                                                      tool_calls=bool(calls)),
                          tool_calls=tuple(c if c.id else replace(c, id=new_call_id())
                                           for c in calls),
                          reasoning=reasoning_of(message),
                          logprobs=logprobs if isinstance(logprobs, dict) else None,
                          refusal=refusal if isinstance(refusal, str) else None)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        async with self.open_stream("POST", self.chat_path,
                                    self.body(request, stream=True)) as response:
            if response.headers.get("content-type", "").startswith("application/json"):
                # The server ignored `stream: true` (or put an error in a 200): one answer.
                with translate_errors():
                    raw = await response.aread()
                try:
                    data = json_object(json.loads(raw))
                except ValueError as exc:
                    raise ProviderError(Failure.BAD_RESPONSE, "answer is not JSON") from exc
                whole = self.completion(data)
                yield Delta(text=whole.text, finish_reason=whole.finish_reason, usage=whole.usage,
                            reasoning=whole.reasoning, logprobs=whole.logprobs,
                            tool_calls=tuple(ToolCallDelta(i, c.id, c.name, c.arguments)
                                             for i, c in enumerate(whole.tool_calls)))
                return
            seen: set[int] = set()  # tool calls begun: each must start with an id
            lines = Lines()
            with translate_errors():
                async for received in response.aiter_bytes():
                    for delta in self._deltas(lines.feed(received), seen):
                        if delta is None:
                            return
                        yield delta
                for delta in self._deltas(lines.end(), seen):  # a last line without its end
                    if delta is None:
                        return
                    yield delta
        raise ProviderError(Failure.CONNECT, "stream ended without [DONE]")

    def _deltas(self, lines: list[str], seen: set[int]) -> Iterator[Delta | None]:
        """The deltas worth relaying that `lines` complete; None for `[DONE]`."""
        for line in lines:
            if not line.startswith("data:"):
                continue  # blank separators, `: keep-alive` comments, `event:` lines
            payload = line[5:].strip()
            if payload == "[DONE]":
                yield None
                return
            delta = with_ids(self._delta(chunk_of(payload)), seen)
            if delta.output or delta.finish_reason or delta.usage:
                yield delta

    @staticmethod
    def _delta(chunk: dict[str, Any]) -> Delta:
        usage = parse_usage(chunk["usage"]) if "usage" in chunk else None
        choices = chunk.get("choices") or []
        if not choices:
            return Delta(usage=usage)
        try:
            choice = choices[0]
            delta = choice.get("delta") or {}
            content = delta.get("content")
            text = clean_output(content if type(content) is str else content_text(content))
            # Most chunks carry text alone: the other fields are looked for only when there.
            calls = tool_call_deltas(delta) if "tool_calls" in delta else ()
            reasoning = (reasoning_of(delta) if "reasoning_content" in delta
                         or "reasoning" in delta else "")
            finish = choice.get("finish_reason")
            logprobs = choice.get("logprobs")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderError(Failure.BAD_RESPONSE, "bad choices in SSE chunk") from exc
        return Delta(text, finish_reason(finish) if finish else None, usage, calls, reasoning,
                     logprobs if isinstance(logprobs, dict) else None)

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """POST /embeddings (llama.cpp with --embeddings, vLLM): floats asked for, whatever
        the client wants; the gateway encodes base64 itself."""
        if not self.token_inputs and not all(isinstance(i, str) for i in request.inputs):
            raise ProviderError(Failure.UNSUPPORTED,
                                f"{self.label} embeds text only, not token arrays")
        body: dict[str, Any] = {"model": self.engine.model, "encoding_format": "float",
                                "input": [i if isinstance(i, str) else list(i)
                                          for i in request.inputs]}
        if request.dimensions:
            body[self.dimensions_field] = request.dimensions
        data = json_object(await self.post_json(self.embeddings_path, body))
        return embeddings_of(data, self.engine.name)

    async def probe(self) -> None:
        with translate_errors():
            response = await self.client.get(self.url(self.models_path), headers=self.headers(),
                                             timeout=self.timeout())
        if response.status_code >= 400:
            raise classify_response(response.status_code, response.headers, response.text)

    async def models(self) -> list[str] | None:
        data = json_object(await self.get_json(self.models_path), "model list")
        listed = data.get("data")
        if not isinstance(listed, list):
            return None
        return [str(m["id"]) for m in listed if isinstance(m, dict) and "id" in m]
