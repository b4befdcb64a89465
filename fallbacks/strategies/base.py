"""What a routing strategy is: a pure function from a route's engines to an order of trying.

A strategy never calls an engine, never touches the database and never waits: the runner
asks it once per request, from the event loop, and still applies breakers, slots, retries
and the attempt budget to whatever order it returns (so every strategy keeps the failover
guarantees). What a strategy needs that lives elsewhere — breaker state, requests in flight,
latency averages, prices — comes in the `Ask` (process memory that synchronous code
refreshes around the run) or in the engine snapshots, so that this package imports nothing
of the app beyond its snapshots, and a plug-in sees what the built-ins see.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from fallbacks.spec import EngineSpec, Request, RouteSpec

Engines = tuple[EngineSpec, ...]


_rng = random.Random()  # noqa: S311 - spreads load, not a secret

FIRST_TOKEN, PER_TOKEN = "first_token_ms", "per_token_ms"  # the latency averages' kinds


class Average(Protocol):
    value: float    # milliseconds
    samples: int


def always(engine: EngineSpec) -> bool:
    return True


def idle(engine_id: int) -> int:
    return 0


def unmeasured(engine_id: int, kind: str) -> Average | None:
    return None


@dataclass(slots=True)
class Ask:
    """One request, as a strategy sees it."""

    route: RouteSpec
    request: Request
    stream: bool = False
    tokens: int = 0              # estimated prompt + max_tokens (fallbacks.strategies.fit)
    prompt_tokens: int = 0       # the estimated prompt alone
    # What the runner knows, from process memory: whether the engine's breaker lets requests
    # through now (never claims a probe), its requests in flight across processes
    # (fallbacks.slots) and its latency averages (fallbacks.latency).
    available: Callable[[EngineSpec], bool] = always
    in_flight: Callable[[int], int] = idle
    latency: Callable[[int, str], Average | None] = unmeasured
    rng: random.Random = field(default_factory=lambda: _rng)


@dataclass(frozen=True, slots=True)
class Choice:
    """The order to try, and one line saying why (the console's "Test route" shows it)."""

    engines: Engines
    why: str


class Strategy:
    """Subclass, set `name` and `label`, implement `order`, and `@register` the class."""

    name: ClassVar[str]
    label: ClassVar[str]
    # Requests in flight on this route's engines are counted across processes (slots.py).
    counts_in_flight: ClassVar[bool] = False
    # The catalog carries the engines' prices into their snapshots (price_in, price_out).
    needs_prices: ClassVar[bool] = False
    # The latency averages (Ask.latency) are reloaded from the shared store before the run.
    uses_latency: ClassVar[bool] = False

    def order(self, engines: Engines, ask: Ask) -> Choice:
        raise NotImplementedError


def split(engines: Sequence[EngineSpec], ask: Ask) -> tuple[list[EngineSpec], list[EngineSpec]]:
    """Engines whose breaker lets requests through, and the others (in the route's order):
    the others go last, where the runner records them as skipped at no cost."""
    up: list[EngineSpec] = []
    down: list[EngineSpec] = []
    for engine in engines:
        (up if ask.available(engine) else down).append(engine)
    return up, down


def names(engines: Sequence[EngineSpec]) -> str:
    return ", ".join(e.name for e in engines) or "none"
