"""What the API answers, as pydantic schemas: they exist for the OpenAPI document.

Request bodies live in `dihya.generation.requests` (shared with the workers and the
`generate` command).
Views build their answers as plain dicts in the same shape; tests compare real answers with
what is written here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = Field(None, description="The request field at fault, if any.")
    code: str = Field(..., description="Stable: invalid_api_key, route_not_allowed, "
                      "model_not_found, invalid_request, all_engines_failed, quota_exceeded, "
                      "consent_required, generation_not_found, generation_not_cancellable…")


class ErrorBody(BaseModel):
    error: ErrorDetail


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CalledFunction(BaseModel):
    name: str
    arguments: str = Field(..., description="JSON text, as the model wrote it.")


class ToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: CalledFunction


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = Field(..., description="null when the answer is tool calls only.")
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: CalledFunction | None = Field(None, description="Legacy `functions` only.")
    reasoning_content: str | None = Field(None, description="The model's reasoning, when "
                                          "the engine gives it (llama.cpp, Ollama's thinking).")


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    logprobs: dict[str, Any] | None = None
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter", "function_call"]


class ChatCompletion(BaseModel):
    """A non-streamed answer. Streamed answers (`stream: true`) are text/event-stream of
    `chat.completion.chunk` objects ending with `data: [DONE]`; an engine that dies mid-stream
    ends it with `data: {"error": {...}}`."""

    id: str = Field(..., description='"chatcmpl-" + the generation id (hex).')
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str = Field(..., description="The route that answered.")
    system_fingerprint: str
    choices: list[Choice]
    usage: UsageOut


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(..., description="Floats, or with `encoding_format: "
                                         "base64` their little-endian float32 bytes in base64.")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding] = Field(..., description="One per input, in the inputs' order.")
    model: str = Field(..., description="The route that answered.")
    usage: EmbeddingUsage


class EngineWhere(BaseModel):
    region: str = Field(..., description="local, EU, US, a country code…")
    processor: Literal["self_hosted", "third_party"]
    mask: bool


class Model(BaseModel):
    id: str = Field(..., description="A route's name: what to send as `model`.")
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "dihya"
    capabilities: list[str] = Field(..., description="What the route's enabled engines can "
                                    "do: chat, tools, json_schema, vision, audio, logprobs…")
    aliases: list[str] = Field(default_factory=list, description="Other names the route "
                               "answers to: exact names and `*` patterns.")
    alias_of: str | None = Field(None, description="On an alias's own entry: the route it "
                                 "reaches (the answers name that route).")
    engines: list[EngineWhere] = Field(
        default_factory=list, description="Where the route's enabled engines process data, in "
        "its order: region, processor kind, and whether personal data is masked first.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class JobAccepted(BaseModel):
    id: str
    status: Literal["queued"] = "queued"


class AttemptOut(BaseModel):
    engine: str
    position: int
    outcome: str
    latency_ms: float
    status_code: int | None
    detail: str = ""


class JobError(BaseModel):
    code: str
    message: str


class Job(BaseModel):
    id: str
    object: Literal["generation"] = "generation"
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    model: str = Field(..., description="The route asked for.")
    created: int
    started: int | None
    finished: int | None
    engine: str | None = Field(..., description="The engine that served, once succeeded.")
    result: str | None = Field(..., description="The answer's text, once succeeded.")
    tool_calls: list[ToolCall] | None = Field(..., description="The answer's tool calls, if "
                                              "it made any.")
    finish_reason: str | None
    usage: UsageOut | None
    attempts: list[AttemptOut] = Field(..., description="The fallback history, in order.")
    error: JobError | None
    deliveries: int = Field(..., description="How many times a worker picked the job up.")
    embeddings: list[list[float]] | None = Field(
        None, description="An embeddings job's vectors, in input order, once succeeded (only "
        "on embeddings jobs).")


ERRORS: dict[int, type[BaseModel]] = {400: ErrorBody, 401: ErrorBody, 403: ErrorBody,
                                      404: ErrorBody, 429: ErrorBody, 503: ErrorBody}
