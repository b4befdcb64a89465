"""Gates: the pipeline's seams for the apps that may refuse or account for a generation.

A gate's `admit` runs inside the admission transaction, before the generation row is written;
it raises `dihya.generation.errors.Refusal` to refuse (nothing reaches an engine then). Its `finish` runs
inside the recording transaction with the real usage, or None when the generation failed or
was cancelled. Gates keep no per-request state of their own: what they need later they find
by the generation's id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from uuid import UUID

    from dihya.generation.errors import Refusal
    from dihya.generation.pipeline import Admission
    from fallbacks.spec import Usage


class Gate(Protocol):
    def admit(self, admission: Admission) -> None: ...

    def finish(self, admission: Admission, usage: Usage | None) -> None: ...

    # Optional hooks, looked up by name: refused(admission, refusal) runs after a refusal's
    # rollback; cancelled(generation_id) runs when a queued job is cancelled before it ran.


def refused(admission: Admission, refusal: Refusal) -> None:
    """Tell the gates that care (audit) that a call was refused, after its rollback."""
    for gate in _GATES:
        hook = getattr(gate, "refused", None)
        if hook is not None:
            hook(admission, refusal)


def cancelled(generation_id: UUID) -> None:
    """Tell the gates that care (quota) that a queued job was cancelled before it ran."""
    for gate in _GATES:
        hook = getattr(gate, "cancelled", None)
        if hook is not None:
            hook(generation_id)


def active() -> list[Gate]:
    """The gates in the order they run: consent before quota, so a refused call costs nothing."""
    return list(_GATES)


def _breaker() -> Gate:
    from fallbacks.breaker import BreakerGate  # last: refusals by other gates claim no probe

    return BreakerGate()


def _quota() -> Gate:
    from dihya.generation.gates.quota import (
        QuotaGate,  # after consent: a refused call reserves nothing
    )

    return QuotaGate()


def _consent() -> Gate:
    from dihya.generation.gates.consent import (
        ConsentGate,  # first: a call without consent costs nothing
    )

    return ConsentGate()


def _audit() -> Gate:
    from dihya.generation.gates.audit import AuditGate  # after all: records what the others decided

    return AuditGate()


_GATES: tuple[Gate, ...] = (_consent(), _quota(), _breaker(), _audit())
