"""The circuit breaker, wired into the pipeline: its synchronous side around each run.

`fallbacks.breaker` answers the runner from memory only; what needs the database happens
here, outside the event loop: before a run (`started`: reload stale state, claim due probes)
and in the recording transaction (`finish`: write this run's events, release unused probes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dihya.generation.gates import Listener
from fallbacks import breaker

if TYPE_CHECKING:
    from dihya.generation.admission import Admission
    from fallbacks.spec import Usage


class BreakerGate(Listener):
    def started(self, admission: Admission) -> None:
        breaker.prepare(admission.route, admission.generation.pk)

    def finish(self, admission: Admission, usage: Usage | None) -> None:
        breaker.flush(admission.generation.pk)

    def overtaken(self, admission: Admission, usage: Usage | None) -> None:
        breaker.flush(admission.generation.pk)  # what the engines did is true all the same
