"""The one writer of a run's end: its row, its attempts, and what guards and listeners do then.

Every finished run — an API call, a worker's job, the console's test, a client gone — ends
here, as an `Ended`: `settle(batch)` writes a batch of them in ONE transaction. "Inline" (the
worker, the console, the `generate` command, an embedding route's first answer) is a batch of
one written on a database thread at once (`now`); "batched" (the API's calls in production) is
the recorder's thread (`dihya.generation.recorder`) calling `write` with what has come. There
is no other path that writes an end.

The fence: a row is finished only if it is still RUNNING with the delivery count its run was
admitted with. A run overtaken meanwhile — the reaper gave up on it, a consent withdrawal
cancelled it, a re-delivered job runs again elsewhere — writes nothing of its own (no second
end, no duplicate attempts); the gates are told it was `overtaken`, with what it used, so that
a stream served after its row was reaped is still charged.

Gates are told gate by gate in their declared order (`dihya.generation.gates.active`), so that
the audit chain's lock is still the last thing taken. A batch uses the gates' `finish_many`
(fewer statements: two for the quota reservations, one chain lock); a batch of one written at
once uses `finish`, whose effects (metrics, traces) are visible as soon as it returns.

This module must never call an engine, and never run on the event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from dihya.gateway.models import Attempt, Generation
from dihya.generation import gates, hops

if TYPE_CHECKING:
    from dihya.generation.admission import Admission
    from fallbacks.runner import AttemptRecord
    from fallbacks.spec import Usage

log = logging.getLogger(__name__)

#: What the end of a run writes on its row (the fence is status and deliveries).
END_FIELDS = ("status", "result", "tool_calls", "finish_reason", "prompt_tokens",
              "completion_tokens", "engine", "engine_name", "error_code", "error_message",
              "finished")


@dataclass(slots=True)
class Ended:
    """One finished run waiting to be written: its admission (the row's new end fields set on
    `admission.generation`), the attempts it made, and its usage (None: it failed)."""

    admission: Admission
    attempts: list[AttemptRecord]
    usage: Usage | None


def now(ended: Ended) -> bool:
    """Write one run's end at once (a batch of one). True if it was this run's to write."""
    return bool(settle([ended], together=False))


def write(batch: list[Ended]) -> None:
    """Write a batch in one transaction; if that fails, each run in its own. Never raises:
    a run that cannot be written even alone is logged with its id and stays RUNNING, so the
    reaper closes it (the row written at admission is the intent)."""
    try:
        settle(batch, together=True)
    except Exception:
        log.exception("recorder: a batch of %d generations could not be written together; "
                      "writing them one by one", len(batch))
        for ended in batch:
            try:
                settle([ended], together=False)
            except Exception:
                log.exception("recorder: generation %s could not be recorded; it stays running "
                              "and the reaper will close it as abandoned",
                              ended.admission.generation.pk)


def settle(batch: list[Ended], *, together: bool) -> list[Ended]:
    """Write the ends of `batch` that are still theirs, fenced, in one transaction, and tell
    the gates; return the runs whose end was written."""
    with hops.one_writer(), transaction.atomic():
        if len(batch) == 1:  # a batch of one: the conditional UPDATE is its own fence
            mine, others = (batch, []) if _update(batch) else ([], batch)
        else:
            mine, others = _fence(batch)
            _update(mine)
        Attempt.objects.bulk_create([
            Attempt(generation_id=e.admission.generation.pk, engine_id=a.engine_id or None,
                    engine_name=a.engine, position=a.position, outcome=a.outcome,
                    latency_ms=a.latency_ms, status_code=a.status_code, detail=a.detail,
                    created=e.admission.generation.finished or timezone.now())
            for e in mine for a in e.attempts])
        for gate in gates.active():
            if together:
                gate.finish_many([(e.admission, e.usage) for e in mine])
            else:
                for e in mine:
                    gate.finish(e.admission, e.usage)
            for e in others:
                gate.overtaken(e.admission, e.usage)
    for e in others:
        log.warning("generation %s: this run was overtaken (reaped, cancelled or re-run); its "
                    "end (%s) is not written", e.admission.generation.pk,
                    e.admission.generation.status)
    return mine


def _fence(batch: list[Ended]) -> tuple[list[Ended], list[Ended]]:
    """Split the batch into the runs whose rows are still theirs (running, same deliveries),
    locking those rows (PostgreSQL; SQLite's write lock is already held), and the others."""
    held = dict(Generation.objects.select_for_update().filter(
        pk__in=[e.admission.generation.pk for e in batch], status=Generation.Status.RUNNING)
        .values_list("pk", "deliveries"))
    mine, others = [], []
    for e in batch:
        g = e.admission.generation
        if held.get(g.pk, -1) == g.deliveries:
            del held[g.pk]  # a run ends once, even if handed over twice
            mine.append(e)
        else:
            others.append(e)
    return mine, others


def _update(mine: list[Ended]) -> int:
    """Each run's end on its row: one prepared UPDATE, executed for all, each still fenced
    by its WHERE. Returns the rows changed."""
    if not mine:
        return 0
    meta = Generation._meta
    fields = [meta.get_field(name) for name in END_FIELDS]
    ops = connection.ops
    sets = ", ".join(f"{ops.quote_name(column(f))} = %s" for f in fields)
    pk, status, deliveries = (ops.quote_name(column(meta.get_field(n)))
                              for n in ("id", "status", "deliveries"))
    # The names are our own, quoted; every value is a parameter.
    sql = (f"UPDATE {ops.quote_name(meta.db_table)} SET {sets} "  # noqa: S608
           f"WHERE {pk} = %s AND {status} = %s AND {deliveries} = %s")
    pk_field = meta.pk
    rows: list[list[Any]] = []
    for e in mine:
        g = e.admission.generation
        rows.append([f.get_db_prep_save(getattr(g, f.attname), connection)  # type: ignore[union-attr]
                     for f in fields]
                    + [pk_field.get_db_prep_value(g.pk, connection), Generation.Status.RUNNING,
                       g.deliveries])
    with connection.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)
        return int(cursor.rowcount)


def column(field: Any) -> str:
    return str(field.column)
