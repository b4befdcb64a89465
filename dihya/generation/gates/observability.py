"""The observability gate: how the pipeline tells dihya.observability about a generation.

It refuses nothing and changes nothing a generation does: at admission it notes the trace the
call belongs to and lets the API's overhead timer find the call's attempts; when the
generation is recorded (inside the recording transaction, as every gate is told) it counts it,
exports its spans and writes its log line. A failure here must never fail a generation.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction

from dihya.gateway.models import Generation
from dihya.generation.gates import Listener
from dihya.observability import logs, metrics, timing, tracing
from quotas import plans
from quotas.models import EnginePrice

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dihya.generation.admission import Admission
    from dihya.generation.errors import Refusal
    from fallbacks.spec import Usage

log = logging.getLogger(__name__)
PRICES_SECONDS = 60.0
_prices: tuple[float, dict[int, tuple[Decimal, Decimal]]] = (0.0, {})


class ObservabilityGate(Listener):
    def admit(self, admission: Admission) -> None:
        timing.admitted(admission)
        parent, trace_id = tracing.current()
        if trace_id:
            admission.trace_parent = parent
            admission.generation.trace_id = trace_id
        if admission.generation.status == Generation.Status.RUNNING:  # a live call
            admission.generation.trace_id = tracing.generation_started(admission, parent) \
                or admission.generation.trace_id

    def refused(self, admission: Admission, refusal: Refusal) -> None:
        tracing.generation_refused(admission, refusal.code)
        client = admission.caller.client
        metrics.refused(refusal.code, client.name if client else "",
                        admission.quota_plan)

    def finish(self, admission: Admission, usage: Usage | None) -> None:
        try:
            recorded(admission, usage)
        except Exception:  # observability must never fail the generation it observes
            log.exception("could not record generation %s for observability",
                          admission.generation.pk)

    def finish_many(self, ended: Sequence[tuple[Admission, Usage | None]]) -> None:
        """A batch is counted once it is committed: were it rolled back, the recorder writes
        its generations again one by one (`dihya.generation.recorder`), and they would be
        counted twice."""
        batch = list(ended)

        def count() -> None:
            for admission, usage in batch:
                self.finish(admission, usage)

        transaction.on_commit(count)


def recorded(admission: Admission, usage: Usage | None) -> None:
    g = admission.generation
    attempts = admission.attempts or []
    metrics.generation_ended(admission, attempts, usage, cost(g, usage))
    trace_id = tracing.generation_ended(admission, attempts, usage)
    if trace_id and trace_id != g.trace_id:  # a job: the worker's trace, not the request's
        Generation.objects.filter(pk=g.pk).update(trace_id=trace_id)
        g.trace_id = trace_id
    logs.generation_ended(admission, attempts, g.trace_id)


def cost(g: Generation, usage: Usage | None) -> int:
    """The generation's cost from engine prices remembered for a minute (no query per call)."""
    global _prices
    if usage is None or not g.engine_id:
        return 0
    at, known = _prices
    if time.monotonic() - at > PRICES_SECONDS:
        known = {e: (i, o) for e, i, o in EnginePrice.objects.values_list(
            "engine_id", "input_per_million", "output_per_million")}
        _prices = (time.monotonic(), known)
    return plans.cost(usage.prompt_tokens, usage.completion_tokens, known.get(g.engine_id))
