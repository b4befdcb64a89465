"""`weighted`: spread requests by each engine's weight in the route (a canary gets 5 %).

The first engine is drawn in proportion to the weights among engines whose breaker lets
requests through, so an open engine's share goes to the others; the rest of the order is the
same draw continued (weighted sampling without replacement), so a failure falls back to
another weighted engine before the standbys. Weight 0 is a standby: tried only after every
weighted engine, in the route's order.
"""

from __future__ import annotations

from fallbacks.spec import EngineSpec
from fallbacks.strategies.base import Ask, Choice, Engines, Strategy, names, split
from fallbacks.strategies.registry import register


@register
class Weighted(Strategy):
    name = "weighted"
    label = "Weighted (spread by each engine's weight)"

    def order(self, engines: Engines, ask: Ask) -> Choice:
        weighted = [e for e in engines if e.weight > 0]
        standby = [e for e in engines if e.weight <= 0]
        up, down = split(weighted, ask)
        drawn = draw(up, ask)
        total = sum(e.weight for e in up)
        why = (f"weighted draw: {drawn[0].name} (weight {drawn[0].weight} of {total})"
               if drawn else "weighted draw: no weighted engine is up")
        if down:
            why += f"; left out of the draw (breaker open): {names(down)}"
        if standby:
            why += f"; standby: {names(standby)}"
        return Choice((*drawn, *down, *standby), why)


def draw(engines: list[EngineSpec], ask: Ask) -> list[EngineSpec]:
    """Weighted sampling without replacement: each engine's key is u ** (1 / weight), the
    largest first (Efraimidis & Spirakis), so the first pick is proportional to the weights."""
    if len(engines) < 2:
        return engines
    rand = ask.rng.random
    return sorted(engines, key=lambda e: rand() ** (1.0 / e.weight), reverse=True)
