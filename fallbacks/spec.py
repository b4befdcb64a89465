"""Immutable snapshots of the configuration a request runs against.

The runner and providers see these, never model instances: a snapshot is cheap to cache,
safe to share between coroutines, and cannot trigger a database query from inside the
event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fallbacks.policy import DEFAULT, RetryPolicy


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
    # Routing (fallbacks.strategies): the weight of this engine in the route it came with,
    # what fits in its context, its prices (per million tokens; carried in by the catalog
    # only for strategies that use them) and whether its requests in flight are counted.
    weight: int = 1
    context_window: int | None = None
    price_in: float = 0.0
    price_out: float = 0.0
    counted: bool = False


@dataclass(frozen=True, slots=True)
class RouteSpec:
    id: int
    name: str
    strategy: str
    max_tokens: int
    engines: tuple[EngineSpec, ...]
    policy: RetryPolicy = DEFAULT
    context_fit: bool = False
    sticky: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What a provider is asked for: the normalised, validated part of a client's body."""

    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None


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


@dataclass(frozen=True, slots=True)
class Delta:
    """One piece of a streamed answer. `usage` only on the last one, when the engine says."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
