"""Section "strategies": what choosing an engine order costs per request, per built-in.

A strategy runs once per request in the event loop, from memory only, so its cost is pure
CPU: timed here with `timeit` on a three-engine route, with the process's real breaker board,
in-flight counts and latency averages as the runner passes them (target: < 50 µs each).
`python -m bench.strategies` prints the figures alone, in a second, without the harness.
"""

from __future__ import annotations

import os
import timeit
from typing import Any

ENGINES = 3
NUMBER = 20_000


def measure(number: int = NUMBER) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dihya.settings")
    import django

    django.setup()
    from fallbacks import breaker, latency, slots, strategies
    from fallbacks.spec import ChatRequest, EngineSpec, Message, RouteSpec
    from fallbacks.strategies import registry
    from fallbacks.strategies.base import FIRST_TOKEN, PER_TOKEN

    engines = tuple(EngineSpec(id=i, name=f"e{i}", provider="openai", base_url="http://h/v1",
                               model="m", weight=i, context_window=4096, price_in=i / 10,
                               price_out=i / 5) for i in range(1, ENGINES + 1))
    board = latency.Board()
    for e in engines:
        board.observe(e.id, FIRST_TOKEN, 100.0 * e.id)
        board.observe(e.id, PER_TOKEN, 10.0 * e.id)
    request = ChatRequest(messages=(Message("system", "You are helpful." * 10),
                                    Message("user", "Summarise this text. " * 40)),
                          max_tokens=256)
    health = breaker.health()
    cases: dict[str, RouteSpec] = {
        name: RouteSpec(id=1, name="r", strategy=name, max_tokens=256, engines=engines)
        for name in registry.names()}
    cases["weighted + context_fit + sticky"] = RouteSpec(
        id=1, name="r", strategy="weighted", max_tokens=256, engines=engines,
        context_fit=True, sticky=True)
    out: dict[str, Any] = {"engines": ENGINES, "number": number, "us_per_request": {}}
    for label, route in cases.items():
        def choose(route: RouteSpec = route) -> None:
            strategies.plan(route, request, user="alice", available=health.available,
                            in_flight=slots.in_flight, latency=board.average)

        best = min(timeit.repeat(choose, number=number, repeat=5))
        out["us_per_request"][label] = round(best / number * 1e6, 2)
    out["worst_us"] = max(out["us_per_request"].values())
    return out


async def strategies(b: Any) -> dict[str, Any]:
    return measure(max(1000, int(NUMBER * b.scale)))


if __name__ == "__main__":
    result = measure()
    for label, us in result["us_per_request"].items():
        print(f"{label:34} {us:6.2f} µs per request")
