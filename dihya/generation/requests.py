"""The body a client sends for a generation, as OpenAI's chat completions API defines it.

One schema for every entry point (chat completions, jobs, the `generate` command): what it
accepts is what the OpenAPI document says. Nothing is dropped silently: a field this schema
does not know is refused with `unsupported_parameter` naming it (`unknown_fields`), unless it
is harmless (`metadata`, `store`, `service_tier`, `prompt_cache_key`, `verbosity`,
`modalities: ["text"]`, `stream_options`: declared below) or the route lists it in its
`drop_params`, then it is dropped and the answer says so; `cache_control` on a content part
is always dropped and named. `safety_identifier` stands for the person, as `user` does. Known
fields are checked strictly; tool schemas must be JSON Schemas. Limits on messages and
characters, and the deny patterns, are read from settings when a body is validated
(dihya.generation.validation), so they follow the environment and `override_settings`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import jsonschema
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dihya.generation import validation as security
from dihya.generation.errors import Refusal
from dihya.generation.messages import STRICT, ChatMessage, Screened, Text, text_of
from dihya.lib import json_schemas

__all__ = ["Body", "ChatBody", "ChatMessage", "EmbeddingBody", "EmbeddingJobBody", "JobBody",
           "Text", "text_of", "unknown_fields"]

FUNCTION_NAME = r"^[a-zA-Z0-9_-]{1,64}$"


def json_schema(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON Schema, checked against its metaschema (a malformed one is the client's 400), and
    against what one process can afford to validate (`dihya.lib.json_schemas`: size, `$ref`s,
    combinators, RE2 patterns): a 400 naming the limit, before it can stall anything."""
    if value is None:
        return value
    json_schemas.check(value)  # first, bounded; TooCostly is a ValueError naming the limit
    try:
        jsonschema.validators.validator_for(value).check_schema(value)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
    security.screen_schema(value)
    return value


class FunctionDef(BaseModel):
    model_config = STRICT
    name: str = Field(..., pattern=FUNCTION_NAME)
    description: Screened | None = None
    parameters: dict[str, Any] | None = Field(None, description="A JSON Schema.")
    strict: bool | None = None

    _schema = field_validator("parameters")(json_schema)


class ToolDef(BaseModel):
    model_config = STRICT
    type: Literal["function"]
    function: FunctionDef


class NamedFunction(BaseModel):
    model_config = STRICT
    name: str = Field(..., pattern=FUNCTION_NAME)


class NamedToolChoice(BaseModel):
    model_config = STRICT
    type: Literal["function"]
    function: NamedFunction


class TextFormat(BaseModel):
    model_config = STRICT
    type: Literal["text"]


class JsonObjectFormat(BaseModel):
    model_config = STRICT
    type: Literal["json_object"]


class JsonSchemaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(..., pattern=FUNCTION_NAME)
    description: Screened | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None

    _schema = field_validator("schema_")(json_schema)


class JsonSchemaFormat(BaseModel):
    model_config = STRICT
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormatIn = Annotated[TextFormat | JsonObjectFormat | JsonSchemaFormat,
                             Field(discriminator="type")]


class StreamOptions(BaseModel):
    model_config = STRICT
    include_usage: bool = False
    include_obfuscation: bool | None = None


class ChatBody(BaseModel):
    # Unknown fields are kept aside (model_extra) and judged against the route at admission.
    model_config = ConfigDict(extra="allow")

    model: Text = Field(..., min_length=1, max_length=64, description="The route's name.")
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stop: Screened | list[Screened] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolDef] | None = Field(None, max_length=128)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDef] | None = Field(None, max_length=128,
                                                description="Legacy: prefer tools.")
    function_call: Literal["none", "auto"] | NamedFunction | None = Field(
        None, description="Legacy: prefer tool_choice.")
    response_format: ResponseFormatIn | None = None
    n: int | None = Field(None, ge=1, le=128,
                          description="Dihya answers one choice: more is unsupported.")
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: dict[Annotated[str, Field(pattern=r"^\d{1,9}$")],
                     Annotated[int, Field(ge=-100, le=100)]] | None = None
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high"] | None = None
    user: Text | None = Field(None, max_length=256,
                              description="The end user on whose behalf the call is made.")
    safety_identifier: Text | None = Field(
        None, max_length=256, description="The end user, as `user` (used when `user` is "
        "absent; both given must be equal).")
    # Harmless: accepted, not forwarded.
    metadata: dict[str, Text] | None = None
    store: bool | None = None
    service_tier: str | None = Field(None, max_length=32)
    prompt_cache_key: Text | None = Field(None, max_length=256)
    verbosity: Literal["low", "medium", "high"] | None = None
    modalities: list[Text] | None = Field(None, max_length=4, description="Only [\"text\"]: "
                                          "any other output modality is unsupported.")

    @field_validator("safety_identifier")
    @classmethod
    def _same_person(cls, value: str | None, info: ValidationInfo) -> str | None:
        user = info.data.get("user")
        if value is not None and user is not None and value != user:
            raise ValueError("user and safety_identifier name two different people; send one")
        return value

    @model_validator(mode="after")
    def _person(self) -> ChatBody:
        """`safety_identifier` is OpenAI's newer name for `user`: everything downstream
        (consent, quotas, erasure) reads `user`."""
        if self.user is None and self.safety_identifier is not None:
            self.user = self.safety_identifier
        return self

    @field_validator("messages")
    @classmethod
    def _within_limits(cls, value: list[ChatMessage]) -> list[ChatMessage]:
        security.check_conversation([message.text for message in value])
        return value

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    @property
    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class JobBody(ChatBody):
    callback_url: Text | None = Field(None, max_length=500,
                                      description="Where the finished job is POSTed, signed.")


#: A token id, as OpenAI's `input` takes them: a JSON integer (not a boolean, not a string).
TokenId = Annotated[int, Strict(), Field(ge=0, le=2**31 - 1)]


class EmbeddingBody(BaseModel):
    """POST /v1/embeddings, as OpenAI defines it. `input` is content, like messages: it is
    checked against the same limits and deny patterns, stored on the generation, redacted in
    the audit log and erased with the person."""

    model_config = ConfigDict(extra="allow")  # judged against the route, as ChatBody's

    model: Text = Field(..., min_length=1, max_length=64, description="The route's name.")
    input: Text | list[Text] | list[TokenId] | list[list[TokenId]] = Field(
        ..., description="A text, a list of texts, a token array or a list of token arrays.")
    encoding_format: Literal["float", "base64"] = Field(
        "float", description="base64: little-endian float32, as OpenAI's (the openai SDK's "
        "default).")
    dimensions: Annotated[int, Strict()] | None = Field(None, ge=1, le=65_536,
                                   description="The vector length, for models that can "
                                   "shorten theirs.")
    user: Text | None = Field(None, max_length=256,
                              description="The end user on whose behalf the call is made.")

    @field_validator("input")
    @classmethod
    def _within_limits(cls, value: str | list[Any]) -> str | list[Any]:
        security.check_embedding_inputs(inputs_of(value))
        return value

    @property
    def inputs(self) -> tuple[str | tuple[int, ...], ...]:
        return inputs_of(self.input)


class EmbeddingJobBody(EmbeddingBody):
    callback_url: Text | None = Field(None, max_length=500,
                                      description="Where the finished job is POSTed, signed.")


def inputs_of(value: str | list[Any]) -> tuple[str | tuple[int, ...], ...]:
    """`input` as the texts or token arrays to embed, one per vector answered."""
    if isinstance(value, str):
        return (value,)
    if value and isinstance(value[0], int):
        return (tuple(value),)  # one token array
    return tuple(v if isinstance(v, str) else tuple(v) for v in value)


#: A body any generation may be asked with.
Body = ChatBody | EmbeddingBody


def unknown_fields(body: Body, droppable: frozenset[str]) -> list[str]:
    """The fields we cannot honour that the route lets us drop (unknown ones, `n` > 1); a
    400 `unsupported_parameter` for the first one it does not."""
    unsupported = list(body.model_extra or ())
    quietly: list[str] = []
    if isinstance(body, ChatBody):
        if body.n is not None and body.n > 1:
            unsupported.append("n")
        if body.modalities is not None and set(body.modalities) - {"text"}:
            if "modalities" not in droppable:
                raise Refusal(400, "unsupported_parameter",
                              "Unsupported parameter: modalities other than 'text' (asked: "
                              f"{', '.join(body.modalities)}); this gateway answers text only.",
                              param="modalities")
            unsupported.append("modalities")
        if any(isinstance(m.content, list) and any(p.cache_control is not None
                                                   for p in m.content)
               for m in body.messages):
            quietly.append("cache_control")  # a prompt-caching hint: no engine here takes it
    for name in unsupported:
        if name not in droppable:
            raise Refusal(400, "unsupported_parameter",
                          f"Unsupported parameter: {name!r} is not supported by this gateway.",
                          param=name)
    return sorted(unsupported + quietly)
