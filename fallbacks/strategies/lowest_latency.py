"""`lowest_latency`: the engine that answered fastest lately first.

Streams are ranked by time to first token, other requests by latency per output token (the
EWMAs of `fallbacks.latency`, shared across processes). An engine never measured goes first,
so that it is measured; and a small share of requests (`DIHYA_LATENCY_EXPLORE`) tries a
random healthy engine first, so that an engine that was slow and has recovered is measured
again and wins its traffic back.
"""

from __future__ import annotations

from django.conf import settings

from fallbacks.spec import EngineSpec
from fallbacks.strategies.base import (
    FIRST_TOKEN,
    PER_TOKEN,
    Ask,
    Choice,
    Engines,
    Strategy,
    split,
)
from fallbacks.strategies.registry import register


@register
class LowestLatency(Strategy):
    name = "lowest_latency"
    label = "Lowest latency (fastest lately, with some exploration)"
    uses_latency = True

    def order(self, engines: Engines, ask: Ask) -> Choice:
        up, down = split(engines, ask)
        kind = FIRST_TOKEN if ask.stream else PER_TOKEN

        def score(e: EngineSpec) -> float:
            avg = ask.latency(e.id, kind)
            return avg.value if avg is not None else -1.0  # never measured: measure it

        up.sort(key=score)
        why = ("lowest latency (" + ("first token" if ask.stream else "per output token")
               + "): " + ", ".join(f"{e.name} {fmt(score(e))}" for e in up))
        if len(up) > 1 and ask.rng.random() < settings.DIHYA_LATENCY_EXPLORE:
            explored = up.pop(ask.rng.randrange(len(up)))
            up.insert(0, explored)
            why = f"exploring: {explored.name} first; " + why
        return Choice((*up, *down), why)


def fmt(ms: float) -> str:
    return "not measured" if ms < 0 else f"{ms:.1f} ms"
