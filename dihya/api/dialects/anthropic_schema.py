"""Anthropic's Messages API request, as pydantic models: what `POST /v1/messages` and
`POST /v1/messages/count_tokens` validate, and what the OpenAPI document shows.

Blocks are strict (a field not declared here is refused, never dropped); the fields Anthropic's
clients put on blocks that mean nothing to an engine (`cache_control`, `citations`, a tool
call's `caller`, an image's `transformations`…) are declared and ignored (docs/api.md). Tools
are plain objects here: a client's own tools are checked by `dihya.api.dialects.anthropic`,
while Anthropic's server tools (web search, bash…), which no engine can run, are left out and
named there.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

STRICT = ConfigDict(extra="forbid")


class Block(BaseModel):
    model_config = STRICT
    cache_control: dict[str, Any] | None = Field(None, description="Accepted, not forwarded.")


class TextBlock(Block):
    type: Literal["text"]
    text: str
    citations: list[Any] | None = None


class Base64Source(BaseModel):
    model_config = STRICT
    type: Literal["base64"]
    media_type: Literal["image/jpeg", "image/png", "image/gif", "image/webp"]
    data: str


class UrlSource(BaseModel):
    model_config = STRICT
    type: Literal["url"]
    url: str


class ImageBlock(Block):
    type: Literal["image"]
    source: Annotated[Base64Source | UrlSource, Field(discriminator="type")]
    transformations: dict[str, Any] | None = None


class ToolUseBlock(Block):
    type: Literal["tool_use"]
    id: str = Field(..., min_length=1, max_length=200)
    name: str = Field(..., min_length=1, max_length=64)
    input: dict[str, Any]
    caller: dict[str, Any] | None = None
    toolset_name: str | None = None


ToolResultPart = Annotated[TextBlock | ImageBlock, Field(discriminator="type")]


class ToolResultBlock(Block):
    type: Literal["tool_result"]
    tool_use_id: str = Field(..., min_length=1, max_length=200)
    content: str | list[ToolResultPart] | None = None
    is_error: bool | None = None
    toolset_name: str | None = None


class ThinkingBlock(Block):
    """The model's earlier reasoning: stripped from the history, never sent to an engine."""

    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(Block):
    type: Literal["redacted_thinking"]
    data: str


class DocumentBlock(Block):
    """Declared so that it is refused by name (no engine here reads PDFs)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["document"]


ContentBlock = Annotated[TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock
                         | ThinkingBlock | RedactedThinkingBlock | DocumentBlock,
                         Field(discriminator="type")]


class MessageIn(BaseModel):
    model_config = STRICT
    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlock]
    output_config: OutputConfig | None = Field(None, description="Claude Code's per-turn "
                                               "effort: accepted and dropped.")


class ToolChoice(BaseModel):
    model_config = STRICT
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = Field(None, description="With type `tool`: the tool to call.")
    disable_parallel_tool_use: bool | None = None


class Thinking(BaseModel):
    model_config = STRICT
    type: Literal["enabled", "disabled", "adaptive", "between_tools"]
    budget_tokens: int | None = Field(None, ge=0)
    display: Literal["summarized", "omitted"] | None = None


class OutputFormat(BaseModel):
    model_config = STRICT
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(..., alias="schema")


class OutputConfig(BaseModel):
    model_config = STRICT
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = Field(
        None, description="Accepted and dropped (`X-Dihya-Dropped-Params`).")
    format: OutputFormat | None = Field(None, description="Structured output: the route's "
                                        "`json_schema` (response_format).")


class Metadata(BaseModel):
    model_config = STRICT
    user_id: str | None = Field(None, max_length=256, description="The person (`user`).")


MessageIn.model_rebuild()


class MessagesInput(BaseModel):
    """What `count_tokens` takes: the prompt of a message, without generation settings."""

    # Fields this dialect does not know are kept aside and judged as chat's are: refused with
    # `unsupported_parameter` unless the route drops them (then named in a header).
    model_config = ConfigDict(extra="allow")

    model: str = Field(..., min_length=1, max_length=64, description="The route's name.")
    messages: Annotated[list[MessageIn], Field(min_length=1)]
    system: str | list[TextBlock] | None = None
    tools: list[dict[str, Any]] | None = Field(None, max_length=128, description=(
        "Custom tools (`name`, `description`, `input_schema`). Server tools (a `type` such as "
        "`web_search_20250305`) are left out and named in `X-Dihya-Dropped-Tools`."))
    tool_choice: ToolChoice | None = None
    thinking: Thinking | None = None
    output_config: OutputConfig | None = None
    output_format: OutputFormat | None = Field(None, description="The structured-outputs "
                                               "beta's spelling of `output_config.format`.")
    mcp_servers: list[Any] | None = Field(None, description="Refused unless empty.")
    context_management: dict[str, Any] | None = Field(None, description=(
        "Server-side clearing of old context: accepted and dropped (`X-Dihya-Dropped-Params`)"
        "; the engine reads the whole history."))
    # Harmless: accepted, not forwarded.
    cache_control: dict[str, Any] | None = None
    speed: str | None = Field(None, max_length=32)
    workspace_id: str | None = Field(None, max_length=256)
    user_profile_id: str | None = Field(None, max_length=256, description="The person "
                                        "(`user`) when `metadata.user_id` is not given.")


class MessagesBody(MessagesInput):
    max_tokens: int = Field(..., ge=1)
    stop_sequences: list[str] | None = None
    temperature: float | None = Field(None, ge=0, le=1)
    top_p: float | None = Field(None, ge=0, le=1)
    top_k: int | None = Field(None, ge=0, description="Accepted and dropped "
                              "(`X-Dihya-Dropped-Params`): the engines here take none.")
    metadata: Metadata | None = None
    stream: bool = False
    service_tier: str | None = Field(None, max_length=32, description="Accepted, ignored.")
    inference_geo: str | None = Field(None, max_length=64, description="Accepted, ignored.")
    diagnostics: dict[str, Any] | None = Field(None, description="Accepted, ignored.")
    container: Any = Field(None, description="Refused unless empty.")


# --- answers (for the OpenAPI document; views answer plain dicts in this shape) -------------
class UsageOut(BaseModel):
    input_tokens: int
    output_tokens: int
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0


class MessageOut(BaseModel):
    """A non-streamed answer. Streamed (`stream: true`): text/event-stream of `message_start`,
    `content_block_start`/`_delta`/`_stop` per block, `message_delta`, `message_stop`."""

    id: str = Field(..., description='"msg_" + the generation id (hex).')
    type: Literal["message"] = "message"
    role: Literal["assistant"] = "assistant"
    model: str
    content: list[dict[str, Any]]
    stop_reason: Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal"]
    stop_sequence: str | None = None
    usage: UsageOut


class TokenCount(BaseModel):
    input_tokens: int


class AnthropicErrorDetail(BaseModel):
    type: str = Field(..., description="invalid_request_error, authentication_error, "
                      "permission_error, not_found_error, rate_limit_error, api_error, "
                      "overloaded_error…")
    message: str
    code: str = Field(..., description="Dihya's stable code, as in its OpenAI-shaped errors.")
    param: str | None = None


class AnthropicError(BaseModel):
    type: Literal["error"] = "error"
    error: AnthropicErrorDetail


ANTHROPIC_ERRORS: dict[int, type[BaseModel]] = {
    status: AnthropicError for status in (400, 401, 403, 404, 413, 429, 503)}
