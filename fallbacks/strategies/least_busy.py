"""`least_busy`: the engine with the fewest requests in flight first, ties by the route's order.

In-flight requests are counted across every web process and worker by the slot leases of
`fallbacks.slots` (which this strategy turns on for every engine of its routes, capped or
not: `counts_in_flight`). The counts come from process memory (`Ask.in_flight`): reloaded
before the run, and this process's own requests count the moment they start.
"""

from __future__ import annotations

from fallbacks.strategies.base import Ask, Choice, Engines, Strategy, split
from fallbacks.strategies.registry import register


@register
class LeastBusy(Strategy):
    name = "least_busy"
    label = "Least busy (fewest requests in flight)"
    counts_in_flight = True

    def order(self, engines: Engines, ask: Ask) -> Choice:
        up, down = split(engines, ask)
        busy = {e.id: ask.in_flight(e.id) for e in engines}
        up.sort(key=lambda e: busy[e.id])  # stable: ties keep the route's order
        why = "least busy: " + ", ".join(f"{e.name} {busy[e.id]} in flight" for e in up)
        return Choice((*up, *down), why)
