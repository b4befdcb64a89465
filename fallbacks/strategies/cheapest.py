"""`cheapest`: the engine that costs least for this request's expected tokens, then order.

The expected cost is the estimated prompt at the input price plus max_tokens at the output
price (the prices quotas' cost limits use, carried into the snapshots by the catalog). An
engine without a price costs nothing, so a self-hosted engine beats a paid API.
"""

from __future__ import annotations

from fallbacks.spec import EngineSpec
from fallbacks.strategies.base import Ask, Choice, Engines, Strategy, split
from fallbacks.strategies.registry import register


@register
class Cheapest(Strategy):
    name = "cheapest"
    label = "Cheapest (by token prices, then order)"
    needs_prices = True

    def order(self, engines: Engines, ask: Ask) -> Choice:
        up, down = split(engines, ask)

        def cost(e: EngineSpec) -> float:
            return (ask.prompt_tokens * e.price_in
                    + ask.request.max_tokens * e.price_out) / 1_000_000

        up.sort(key=cost)
        why = "cheapest: " + ", ".join(f"{e.name} ~{cost(e):.6f}" for e in up)
        return Choice((*up, *down), why)
