"""Queued generations: hand them to django-q2, run them on a worker, exactly once.

A task carries only the generation's id. Delivery is at least once (the ORM broker re-delivers
a task whose worker died); completion is exactly once, because a worker must first move the
row from `queued` to `running` in one conditional UPDATE, and only one can. Running goes
through the pipeline's own verbs (`resume`, `execute`, `record`): no gate is called from here.
"""

from __future__ import annotations

import logging
from functools import partial
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from dihya.gateway import broker
from dihya.gateway.models import Generation, JobVectors
from dihya.generation import callbacks, gates, hops, pipeline
from dihya.generation.ending import Outcome
from dihya.generation.errors import Refusal
from dihya.generation.reconnect import claimed
from dihya.generation.reconnect import retrying as again
from dihya.lib import loop
from fallbacks.runner import EmbedResult

log = logging.getLogger(__name__)

TASK = "dihya.tasks.run_generation"


def enqueue(generation: Generation) -> None:
    """Queue the job once the row that describes it is committed (a worker may be faster).

    The committed `queued` row is the promise: if the broker is down (Redis restarting), the
    job stays accepted and this process sends it as soon as the broker answers again
    (`dihya.gateway.broker`); the reaper is the backstop (DIHYA_REAP_QUEUED_AFTER)."""
    gid = str(generation.pk)
    transaction.on_commit(partial(broker.send, TASK, gid, name=f"generation {gid}",
                                  group="generations"))


def claim(generation_id: UUID | str) -> Generation | None:
    """Move a queued job to running; None if another worker has it or it was cancelled
    (through a lost connection too: `reconnect.claimed`)."""
    rows = Generation.objects.filter(pk=generation_id)
    if not claimed(rows, Generation.Status.QUEUED, Generation.Status.RUNNING):
        return None
    return again(rows.select_related("client").get)


def run(generation_id: UUID | str) -> str:
    """Run one queued generation to a terminal state. Returns the final status.

    Each step that touches the database survives the loss of the worker's connection (a
    restart, a failover, `pg_terminate_backend`): it runs again on a new one
    (`reconnect.retrying`), so a job whose connection died while its engine thought is
    recorded seconds later, once, by this run — not minutes later by the reaper."""
    generation = claim(generation_id)
    if generation is None:
        current = again(Generation.objects.filter(pk=generation_id).values_list(
            "status", flat=True).first)
        log.info("generation %s not claimed (status %s)", generation_id, current or "missing")
        return current or "missing"
    admission = again(pipeline.resume, generation)
    ended_here = True
    if admission is not None:
        outcome = loop.run(pipeline.execute(admission),
                           timeout=settings.DIHYA_JOB_DEADLINE + 15)
        ended_here = again(recorded, admission, outcome) or again(_ended_by, generation)
    if generation.callback_url and ended_here:
        again(callbacks.announce, generation.pk)  # the client asked to be told how it ended
    return again(Generation.objects.values_list("status", flat=True).get, pk=generation.pk)


def recorded(admission: pipeline.Admission, outcome: Outcome) -> bool:
    """Write the job's end; an embeddings job's vectors with it, for the client to read
    (a live call's are answered, never stored). Whether the end was this run's."""
    with hops.one_writer(), transaction.atomic():
        try:
            written = pipeline.record(admission, outcome)
        except Refusal:  # recorded on the generation; no socket waits
            return False
        if written and isinstance(outcome, EmbedResult):
            JobVectors.objects.create(generation_id=admission.generation.pk,
                                      vectors=[list(v) for v in outcome.embeddings.vectors])
        return written


def _ended_by(generation: Generation) -> bool:
    """Whether the row's end is this run's: a refused run (no engine answered) was recorded
    by `record` before it raised, if the row was still ours."""
    return Generation.objects.filter(pk=generation.pk, deliveries=generation.deliveries,
                                     status__in=Generation.TERMINAL).exists()


def cancel(generation: Generation, reason: str = "cancelled before it ran") -> bool:
    """Cancel a job that no worker has started. True if it was still queued."""
    with transaction.atomic():
        cancelled = Generation.objects.filter(
            pk=generation.pk, status=Generation.Status.QUEUED).update(
            status=Generation.Status.CANCELLED, finished=timezone.now(),
            error_code="cancelled", error_message=reason)
        if cancelled:
            for gate in gates.active():
                gate.cancelled(generation.pk)  # e.g. give back its quota reservation
    return bool(cancelled)
