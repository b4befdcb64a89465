"""Gates: the pipeline's seams for the apps that may refuse or account for a generation.

Two kinds, named in code: a `Guard` may refuse a call (consent, quota) and holds something it
gives back on a refusal, a cancel or the end (a consent link, a quota reservation); a
`Listener` only observes (breaker, routing, audit, observability): it never refuses, and what
it does cannot change whether a call runs. Guards run before listeners, so that a refused call
costs the listeners nothing.

A gate's `admit` runs inside the admission transaction, before the generation row is written;
it raises `dihya.generation.errors.Refusal` to refuse (nothing reaches an engine then).
`started` runs when the generation is about to call engines: at once for a live call, when a
worker claims it for a queued job (a gate may still refuse then). `finish` runs inside the
recording transaction with the real usage, or None when the generation failed or was
cancelled; `overtaken` runs instead when the run lost its row meanwhile (reaped, cancelled,
re-run elsewhere: `dihya.generation.settle`). `finish_many` is `finish` for a batch of
generations recorded in one transaction by the recorder (`dihya.generation.recorder`); a gate
that can do a batch's work in fewer statements overrides it. `rolled_back` runs after the
admission transaction rolled back, for whatever reason; `refused` after a refusal's
rollback; `cancelled` when a queued job is cancelled before it ran. Gates keep no
per-request state of their own: what they need later they find by the generation's id, or
on the admission's typed fields (`Admission.quota_charge`).

The list is built on first use, not at import, so that importing this package imports no gate
(and no app behind one).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from dihya.generation.admission import Admission
    from dihya.generation.errors import Refusal
    from fallbacks.spec import Usage


class Gate:
    """Every hook the pipeline calls, doing nothing: a gate overrides the ones it needs."""

    def admit(self, admission: Admission) -> None:
        return None

    def started(self, admission: Admission) -> None:
        return None

    def finish(self, admission: Admission, usage: Usage | None) -> None:
        return None

    def finish_many(self, ended: Sequence[tuple[Admission, Usage | None]]) -> None:
        """`finish` for each of a batch, in one transaction (the batched recorder's)."""
        for admission, usage in ended:
            self.finish(admission, usage)

    def overtaken(self, admission: Admission, usage: Usage | None) -> None:
        """The run ended after its row was taken over (reaped, cancelled, re-run): nothing
        of this run was written. `usage` is what it used if it was served."""
        return None

    def rolled_back(self, admission: Admission) -> None:
        """The admission transaction rolled back (a refusal, or an error): give back what
        `admit` took outside the database (the rollback undid the rest)."""
        return None

    def refused(self, admission: Admission, refusal: Refusal) -> None:
        return None

    def cancelled(self, generation_id: UUID) -> None:
        return None


class Guard(Gate):
    """A gate that may refuse: `admit` (and `started`, for a queued job a worker claims) may
    raise `Refusal`; what it holds is given back by `refused`, `cancelled` or `finish`."""


class Listener(Gate):
    """A gate that only observes how calls go: it never raises `Refusal`."""


@cache
def active() -> tuple[Gate, ...]:
    """The gates in the order they run: consent first, so that a call without consent costs
    nothing; quota next, so that a refused call reserves nothing; the breaker after those, so
    that a call another gate refuses claims no probe; routing (in-flight counts, latency
    averages) beside it; audit next, to record what they decided; observability (metrics,
    traces, logs) after all, to see how it ended.
    """
    from dihya.generation.gates.audit import AuditGate
    from dihya.generation.gates.breaker import BreakerGate
    from dihya.generation.gates.consent import ConsentGate
    from dihya.generation.gates.observability import ObservabilityGate
    from dihya.generation.gates.quota import QuotaGate
    from dihya.generation.gates.routing import RoutingGate

    guards: tuple[Guard, ...] = (ConsentGate(), QuotaGate())
    listeners: tuple[Listener, ...] = (BreakerGate(), RoutingGate(), AuditGate(),
                                       ObservabilityGate())
    return guards + listeners
