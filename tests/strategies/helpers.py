"""Snapshots to feed strategies: they need no database, no engine, no event loop."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

from fallbacks import strategies
from fallbacks.spec import ChatRequest, EngineSpec, Message, RouteSpec


def engine(id: int, name: str | None = None, **fields) -> EngineSpec:
    return EngineSpec(id=id, name=name or f"e{id}", provider="openai",
                      base_url=f"http://127.0.0.1:{9000 + id}/v1", model="m", **fields)


def route(strategy: str, *engines: EngineSpec, **fields) -> RouteSpec:
    return RouteSpec(id=1, name="r", strategy=strategy, max_tokens=64, engines=engines, **fields)


def request(prompt: str = "hi", max_tokens: int = 16) -> ChatRequest:
    return ChatRequest(messages=(Message("user", prompt),), max_tokens=max_tokens)


def first_picks(r: RouteSpec, n: int, seed: int = 7, **plan_kwargs) -> Counter[str]:
    """Which engine comes first over `n` plans, with a seeded random source."""
    from fallbacks.strategies import base

    rng = random.Random(seed)
    saved = base._rng
    base._rng = rng
    try:
        return Counter(strategies.plan(r, request(), **plan_kwargs).engines[0].name
                       for _ in range(n))
    finally:
        base._rng = saved


def down(*names: str) -> Callable[[EngineSpec], bool]:
    return lambda e: e.name not in names
