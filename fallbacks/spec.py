"""Immutable snapshots of the configuration a request runs against.

The runner and providers see these, never model instances: a snapshot is cheap to cache,
safe to share between coroutines, and cannot trigger a database query from inside the
event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fallbacks.policy import DEFAULT, RetryPolicy

#: What an engine can do (`Engine.capabilities`); a request needs some of them.
CAPABILITIES = ("chat", "tools", "json_schema", "vision", "audio", "logprobs", "embeddings")


@dataclass(frozen=True, slots=True)
class EngineSpec:
    id: int
    name: str
    provider: str
    base_url: str
    model: str
    api_key: str = field(default="", repr=False)
    connect_timeout: float = 2.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    key_required: bool = False
    max_concurrency: int | None = None
    #: Most batch lines in flight at once (None: no limit), so live calls keep the rest.
    batch_share: int | None = None
    # Routing (fallbacks.strategies): the weight of this engine in the route it came with,
    # what fits in its context, its prices (per million tokens; carried in by the catalog
    # only for strategies that use them) and whether its requests in flight are counted.
    weight: int = 1
    context_window: int | None = None
    price_in: float = 0.0
    price_out: float = 0.0
    counted: bool = False
    capabilities: frozenset[str] = frozenset({"chat"})
    # Lawful egress (fallbacks.egress): where it processes data, whether a third party runs
    # it, and whether personal data is masked before it is called.
    region: str = "local"
    third_party: bool = False
    mask: bool = False


@dataclass(frozen=True, slots=True)
class RouteSpec:
    id: int
    name: str
    strategy: str
    #: The ceiling: a request asking more is refused (400, naming the param).
    max_tokens: int
    engines: tuple[EngineSpec, ...]
    policy: RetryPolicy = DEFAULT
    context_fit: bool = False
    sticky: bool = False
    #: Request fields the route drops (and reports) rather than refuses.
    drop_params: frozenset[str] = frozenset()
    #: The length of the vectors this route's embeddings have: pinned by the admin, or
    #: recorded from the first answer; None until then. Answers of another length fail.
    embedding_dimension: int | None = None
    #: What a request that sets no max_tokens is given (0: the ceiling).
    default_max_tokens: int = 0
    #: Other names clients may call the route by: exact names and `*` patterns.
    aliases: tuple[str, ...] = ()


#: The characters an image or audio clip counts as in quota estimates (about 1,000 tokens).
PART_CHARS = 4000


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the assistant made; `arguments` is JSON text, as OpenAI sends it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Part:
    """A content part that is not plain text: an image (`url`, maybe a data URL) or audio."""

    type: str  # "image_url" | "input_audio"
    url: str = ""
    detail: str | None = None
    data: str = ""  # input_audio: base64
    format: str = ""  # input_audio: wav, mp3


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str
    #: Images and audio, in order after `content` (the message's text).
    parts: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    type: str  # "text" | "json_object" | "json_schema"
    name: str = ""
    schema: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What a provider is asked for: the normalised, validated part of a client's body."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    tools: tuple[Tool, ...] = ()
    #: "none" | "auto" | "required" | "function" (then `tool_name` names it) | None.
    tool_choice: str | None = None
    tool_name: str | None = None
    parallel_tool_calls: bool | None = None
    #: The client sent the legacy `functions`/`function_call`: answer in that shape.
    legacy_functions: bool = False
    response_format: ResponseFormat | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: tuple[tuple[str, int], ...] = ()
    reasoning_effort: str | None = None

    @property
    def prompt_chars(self) -> int:
        """What the prompt weighs in characters, for a conservative token estimate: text,
        tool-call arguments and tool schemas, and a flat weight per image or audio clip
        (engines charge those by size class, not by their base64 length)."""
        chars = sum(len(m.content) + len(m.role) + sum(len(c.name) + len(c.arguments)
                                                       for c in m.tool_calls)
                    + PART_CHARS * len(m.parts) for m in self.messages)
        chars += sum(len(t.name) + len(t.description or "") + len(repr(t.parameters or ""))
                     for t in self.tools)
        if self.response_format is not None and self.response_format.schema:
            chars += len(repr(self.response_format.schema))
        return chars

    @property
    def needs(self) -> frozenset[str]:
        """The capabilities an engine must have to serve this request."""
        needs = {"chat"}
        if self.tools and self.tool_choice != "none":
            needs.add("tools")
        if self.response_format is not None and self.response_format.type != "text":
            needs.add("json_schema")
        if self.logprobs:
            needs.add("logprobs")
        for message in self.messages:
            for part in message.parts:
                needs.add("vision" if part.type == "image_url" else "audio")
        return frozenset(needs)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: str
    usage: Usage
    engine: str
    tool_calls: tuple[ToolCall, ...] = ()
    #: The model's reasoning (llama.cpp `reasoning_content`, Ollama `thinking`), if it says.
    reasoning: str = ""
    #: OpenAI's `choices[0].logprobs` object, as the engine gave it.
    logprobs: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    refusal: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call: id and name come first, then argument pieces."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Delta:
    """One piece of a streamed answer. `usage` only on the last one, when the engine says."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    tool_calls: tuple[ToolCallDelta, ...] = ()
    reasoning: str = ""
    logprobs: dict[str, Any] | None = field(default=None, hash=False, compare=False)

    @property
    def output(self) -> bool:
        """Whether this delta carries any of the answer (text, reasoning or a tool call)."""
        return bool(self.text or self.tool_calls or self.reasoning)


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """What an embedding provider is asked for: texts (or token arrays, as OpenAI's `input`
    allows), in order, and the vector length the client asked for, if any."""

    inputs: tuple[str | tuple[int, ...], ...]
    dimensions: int | None = None

    @property
    def prompt_chars(self) -> int:
        """What the inputs weigh in characters, for the quota's token estimate: a token of a
        token array counts as four characters (the estimate's own ratio)."""
        return sum(len(i) if isinstance(i, str) else 4 * len(i) for i in self.inputs)

    @property
    def max_tokens(self) -> int:
        """An embedding generates no tokens (what strategies and quotas ask of any request)."""
        return 0

    @property
    def needs(self) -> frozenset[str]:
        return frozenset({"embeddings"})


@dataclass(frozen=True, slots=True)
class Embeddings:
    """An engine's answer: one vector per input, in the inputs' order."""

    vectors: tuple[tuple[float, ...], ...] = field(hash=False, compare=False)
    usage: Usage
    engine: str
    #: The model the engine says it used (informational; the route's engines are one model).
    model: str = ""

    @property
    def dimension(self) -> int:
        return len(self.vectors[0]) if self.vectors else 0


#: Anything a route can be asked: a chat completion or embeddings.
Request = ChatRequest | EmbeddingRequest
