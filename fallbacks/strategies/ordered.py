"""`ordered`: the admin's order, first healthy engine wins. The default, and today's way."""

from __future__ import annotations

from fallbacks.strategies.base import Ask, Choice, Engines, Strategy
from fallbacks.strategies.registry import register


@register
class Ordered(Strategy):
    name = "ordered"
    label = "Ordered (first healthy engine wins)"

    def order(self, engines: Engines, ask: Ask) -> Choice:
        return Choice(engines, "the route's order")
