"""The audit log, wired into the pipeline: one event per generation, with its fallback history.

`AuditGate` runs last, inside the recording transaction, after the attempts were written, so
the event and the generation commit together. The subject is the pseudonym of the `user` the
client sent, never the string itself. Prompts (messages, or the inputs of an embeddings call)
and answers (an embeddings call's is its shape, never vectors) go into the event only when
DIHYA_AUDIT_CONTENT is on, redacted, and they are erased with the person.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from audit import log
from dihya.gateway.models import Attempt, Generation
from dihya.generation import records
from dihya.generation.gates import Listener
from dihya.lib.pseudonyms import pseudonym

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dihya.generation.admission import Admission
    from dihya.generation.errors import Refusal
    from fallbacks.spec import Usage

# Refusals worth an event, by the kind of event they make.
AUDITED_REFUSALS = {"consent_required": "consent_refused", "quota_exceeded": "quota_block"}


class AuditGate(Listener):
    def refused(self, admission: Admission, refusal: Refusal) -> None:
        """A gate refused the call. Must be called after the admission transaction rolled back
        (an event written inside it would be rolled back with it)."""
        kind = AUDITED_REFUSALS.get(refusal.code)
        if kind is None:
            return
        g = admission.generation
        client = admission.caller.client
        log.record(kind, subject=pseudonym(g.end_user) if g.end_user else "",
                   actor=client.name if client else g.source, client=client.name if client else "",
                   route=g.route_name, status=refusal.code, details={"source": g.source})

    def finish(self, admission: Admission, usage: Usage | None) -> None:
        log.record(**event_of(admission, usage))

    def finish_many(self, ended: Sequence[tuple[Admission, Usage | None]]) -> None:
        """A batch's events in its order, under one lock of the chain (`audit.log.record_many`)."""
        log.record_many([event_of(admission, usage) for admission, usage in ended])

    def overtaken(self, admission: Admission, usage: Usage | None) -> None:
        """The generation's end was recorded already (by the reaper); a live call that was
        served after all leaves one more event saying so, with what it used."""
        g = admission.generation
        if usage is None or g.deliveries:
            return
        client = admission.caller.client
        log.record("late_usage", subject=pseudonym(g.end_user) if g.end_user else "",
                   actor=client.name if client else g.source,
                   client=client.name if client else "", route=g.route_name,
                   engine=g.engine_name, generation_id=g.pk,
                   prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                   status="served_after_reaped", details={"source": g.source})


def event_of(admission: Admission, usage: Usage | None) -> dict[str, Any]:
    """The `generation` event of a finished generation: `audit.log.record`'s arguments."""
    g = admission.generation
    masked: dict[str, dict[str, int]] = {}
    if admission.attempts is not None:  # the pipeline hands over what it just wrote
        done = [(a.engine, a.outcome, a.latency_ms) for a in admission.attempts]
        # How many entities of each type were masked before the engine was called: counts
        # only, never the values (the record of processing sums them per engine).
        masked = {a.engine: a.masked for a in admission.attempts if a.masked}
    else:
        done = list(Attempt.objects.filter(generation_id=g.pk).order_by("id")
                    .values_list("engine_name", "outcome", "latency_ms"))
    attempts = [{"engine": name, "outcome": outcome, "latency_ms": round(latency, 1)}
                | ({"masked": masked[name]} if outcome == "ok" and name in masked else {})
                for name, outcome, latency in done]
    status = g.status if usage is not None or g.status != Generation.Status.SUCCEEDED \
        else Generation.Status.CANCELLED
    details: dict[str, object] = {"source": g.source}
    if g.kind != Generation.Kind.CHAT:
        details["kind"] = g.kind
    if g.error_code:
        details["error"] = g.error_code
    if dropped := admission.dropped_tools:  # hosted tools a dialect left out
        details["dropped_tools"] = dropped
    if settings.DIHYA_AUDIT_CONTENT:
        # Tool arguments and results are content too: redacted alike (audit.log.record).
        details["prompt"] = records.prompt_of(g.request)
        if called := [c for m in g.request.get("messages", [])
                      for c in m.get("tool_calls", ())]:
            details["prompt_tool_calls"] = called
        details["answer"] = g.result
        if g.tool_calls:
            details["tool_calls"] = g.tool_calls
    client = admission.caller.client
    return {"kind": "generation", "subject": pseudonym(g.end_user) if g.end_user else "",
            "actor": client.name if client else g.source,
            "client": client.name if client else "", "route": g.route_name,
            "engine": g.engine_name, "generation_id": g.pk, "attempts": attempts,
            "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
            "status": status, "details": details}
