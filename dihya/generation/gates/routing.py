"""Routing strategies, wired into the pipeline: their synchronous side around each run.

Strategies answer the runner from memory only (`fallbacks.strategies`); what needs the
database or Redis happens here, outside the event loop: before a run (`started`: reload the
requests in flight of a `least_busy` route's engines and the latency averages, each at most
every few seconds) and in the recording transaction (`finish`: write this process's latency
samples, batched). It never refuses a generation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dihya.generation.gates import Listener
from fallbacks import latency, slots
from fallbacks.strategies import strategy_of

if TYPE_CHECKING:
    from dihya.generation.admission import Admission
    from fallbacks.spec import Usage


class RoutingGate(Listener):
    def started(self, admission: Admission) -> None:
        route = admission.route
        if route.engines and any(e.counted for e in route.engines):
            slots.refresh_load(e.id for e in route.engines)
        if strategy_of(route).uses_latency:
            latency.board().refresh()

    def finish(self, admission: Admission, usage: Usage | None) -> None:
        latency.board().flush()
