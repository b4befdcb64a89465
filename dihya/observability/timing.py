"""The time an API call spends in Dihya itself: its wall time less its engines' time.

`views.Overhead` opens a `Call` for each API request in a context variable; the pipeline's
observability gate attaches the call's admission to it (the variable's value is shared with
the threads the pipeline hops to, being copied by reference), so that when the response
leaves, the attempts made so far are known: for a stream, those up to its first token. Holds
nothing beyond the request; must never be read outside it.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dihya.generation.admission import Admission


@dataclass(slots=True)
class Call:
    started: float = field(default_factory=time.perf_counter)
    admission: Admission | None = None

    def engine_seconds(self) -> float:
        if self.admission is None:
            return 0.0
        return sum(a.latency_ms for a in (self.admission.attempts or ())) / 1000

    def overhead(self) -> float:
        return max(0.0, time.perf_counter() - self.started - self.engine_seconds())

    @property
    def trace_id(self) -> str:
        return self.admission.generation.trace_id if self.admission else ""


current: ContextVar[Call | None] = ContextVar("dihya_call", default=None)


def admitted(admission: Admission) -> None:
    call = current.get()
    if call is not None:
        call.admission = admission
