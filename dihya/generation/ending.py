"""The end of a run, written: its row, its attempts, and what every gate does at the end.

`pipeline` calls these when a run ends (inline for the worker, the reaper and the console;
handed to `dihya.generation.recorder` for the API's calls, which writes the same thing in
batches). Kept apart from the pipeline's steps so that each reads in one sitting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from dihya.gateway.models import Attempt, Generation
from dihya.generation import gates, hops, recorder
from dihya.generation.admission import Admission
from fallbacks.runner import AttemptRecord
from fallbacks.spec import Usage

log = logging.getLogger(__name__)


def finish_succeeded(admission: Admission, attempts: list[AttemptRecord], text: str,
                     finish_reason: str, usage: Usage, engine_id: int, engine_name: str,
                     tool_calls: list[dict[str, str]] | None = None, *,
                     later: bool = False) -> bool:
    g = admission.generation
    g.status = Generation.Status.SUCCEEDED
    g.result = text
    g.tool_calls = tool_calls or []
    g.finish_reason = finish_reason[:32]  # the column; an engine may say anything
    g.prompt_tokens = usage.prompt_tokens
    g.completion_tokens = usage.completion_tokens
    g.engine_id = engine_id
    g.engine_name = engine_name
    return write_end(admission, attempts, usage, later=later)


def finish_failed(admission: Admission, attempts: list[AttemptRecord], code: str,
                  message: str, *, served: Served | None = None, later: bool = False) -> bool:
    """`served`: a stream that failed after its answer began (the client went away, the engine
    died) relayed that much; the gates are handed its usage, so the quota charges the request
    and those tokens instead of releasing it. Only a call that sent nothing is released."""
    g = admission.generation
    g.status = Generation.Status.FAILED
    g.error_code = code
    g.error_message = message[:2000]
    if served is None:
        return write_end(admission, attempts, None, later=later)
    g.prompt_tokens = served.usage.prompt_tokens
    g.completion_tokens = served.usage.completion_tokens
    g.engine_id = served.engine_id
    g.engine_name = served.engine_name
    return write_end(admission, attempts, served.usage, later=later)


@dataclass(frozen=True, slots=True)
class Served:
    """What a call that failed after its answer began had served, and by which engine."""

    usage: Usage
    engine_id: int
    engine_name: str


def write_end(admission: Admission, attempts: list[AttemptRecord], usage: Usage | None, *,
            later: bool = False) -> bool:
    """Write the end of this run, fenced: only if the row is still the run this process holds
    (running, with the delivery count it was claimed with). A run overtaken meanwhile — the
    reaper gave up on it, a consent withdrawal cancelled it, a re-delivered job runs again
    elsewhere — writes nothing of its own (no second end, no duplicate attempts); the gates
    are told it was overtaken, with what it used, so that a stream served after its row was
    reaped is still charged. Returns whether this run's end was written.

    `later`: hand the run to the batched recorder (`dihya.generation.recorder`), which writes
    it the same way, fenced alike, a few milliseconds from now; True then (nobody on the API's
    path acts on whether it was overtaken)."""
    g = admission.generation
    g.finished = timezone.now()
    admission.notes["attempts"] = attempts  # gates need not read back what is written here
    if later:
        recorder.submit(admission, attempts, usage)
        return True
    with hops.one_writer(), transaction.atomic():
        updated = Generation.objects.filter(
            pk=g.pk, status=Generation.Status.RUNNING, deliveries=g.deliveries).update(
            status=g.status, result=g.result, tool_calls=g.tool_calls,
            finish_reason=g.finish_reason,
            prompt_tokens=g.prompt_tokens, completion_tokens=g.completion_tokens,
            engine_id=g.engine_id, engine_name=g.engine_name, error_code=g.error_code,
            error_message=g.error_message, finished=g.finished)
        if updated:
            Attempt.objects.bulk_create(
                Attempt(generation_id=g.pk, engine_id=a.engine_id or None,
                        engine_name=a.engine, position=a.position, outcome=a.outcome,
                        latency_ms=a.latency_ms, status_code=a.status_code, detail=a.detail,
                        created=g.finished)
                for a in attempts
            )
        for gate in gates.active():
            if updated:
                gate.finish(admission, usage)
            else:
                gate.overtaken(admission, usage)
    # The line a recorded generation ends with, its metrics and spans: the observability gate
    # (dihya/generation/gates/observability.py).
    if not updated:
        log.warning("generation %s: this run was overtaken (reaped, cancelled or re-run); its "
                    "end (%s) is not written", g.pk, g.status)
    return bool(updated)
