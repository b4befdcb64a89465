"""The end of API calls, written after the answer: many generations per transaction.

With DIHYA_RECORDER = "batched" (production's default), the API's paths (`pipeline.complete`,
the end of a stream, a client gone) hand a finished run to this process's recorder and return
at once: no thread hop and no statement on the request's path once the engine has answered.
One writer thread takes what has come (at most DIHYA_RECORD_BATCH_MAX; after waiting
DIHYA_RECORD_BATCH_MS from the first, 0 by default: what ends during a write makes the next
batch, so batches grow with the load) and writes them all in ONE transaction: the fenced
generation updates, every attempt in one INSERT, the reservations settled or released in two
statements with one UPDATE per counter row (`quotas.ledger.close_many`), the audit events
under one lock of the chain (`audit.log.record_many`), then what the other gates do at the
end (breaker events and probe releases, latency samples; metrics and log lines once
committed). The django-q2 worker and the reaper write inline (`ending.write_end`): they are
off any request's path, and the worker needs to know at once whether its end was written.

The fence is the inline one: a row is finished only if it is still RUNNING with the delivery
count its run was admitted with; a run whose row was taken over meanwhile (reaped, cancelled)
is told to the gates as `overtaken`, exactly as inline. A batch that fails is written again
one run per transaction with the gates' single-run hooks, so one bad row loses nothing else;
a run that cannot be written even alone is logged with its id and stays RUNNING, so the reaper
closes it (docs/benchmarks-notes.md, "Durability of batched recording": the row written at
admission is the intent). The queue is written when the server shuts down (ASGI
lifespan, `dihya.asgi`: uvicorn after SIGTERM or SIGINT) and at exit (atexit, for servers
without lifespan); only a process killed outright loses its queue, to the reaper.

This module must never run on a request's thread beyond `submit`, never call an engine, and
never hold the chain's lock before the batch's other rows are written.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from dihya.gateway.models import Attempt, Generation
from dihya.generation import gates, hops

if TYPE_CHECKING:
    from dihya.generation.admission import Admission
    from fallbacks.runner import AttemptRecord
    from fallbacks.spec import Usage

log = logging.getLogger(__name__)

# What the end of a run writes on its row (the fence is status and deliveries).
END_FIELDS = ("status", "result", "tool_calls", "finish_reason", "prompt_tokens",
              "completion_tokens", "engine", "engine_name", "error_code", "error_message",
              "finished")
SHUTDOWN_SECONDS = 10.0  # how long a normal exit waits for the last batch


@dataclass(slots=True)
class Ended:
    """One finished run waiting to be written: its admission (the row's new end fields set
    on `admission.generation`), the attempts it made, and its usage (None: it failed)."""

    admission: Admission
    attempts: list[AttemptRecord]
    usage: Usage | None


def batched() -> bool:
    return settings.DIHYA_RECORDER == "batched"


class Recorder:
    """A queue and the one thread that drains it. `submit` is all a request does."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.queue: list[Ended] = []
        self.submitted = 0  # runs handed over, ever
        self.settled = 0    # runs written, overtaken, or given up on (logged)
        self.flush_to = 0   # `flush` waits for this many: no batch window until then
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def submit(self, ended: Ended) -> None:
        with self.cond:
            if self.thread is None or not self.thread.is_alive():
                self._start()
            self.queue.append(ended)
            self.submitted += 1
            if len(self.queue) == 1 or len(self.queue) >= settings.DIHYA_RECORD_BATCH_MAX:
                self.cond.notify()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every run handed over so far is written (tests, shutdown). True if so."""
        deadline = time.monotonic() + timeout
        with self.cond:
            target = self.flush_to = max(self.flush_to, self.submitted)
            self.cond.notify_all()
            while self.settled < target:
                left = deadline - time.monotonic()
                if left <= 0 or self.thread is None or not self.thread.is_alive():
                    return self.settled >= target
                self.cond.wait(min(left, 0.5))
        return True

    def close(self, timeout: float = SHUTDOWN_SECONDS) -> None:
        """Write what is queued and stop the thread (atexit). What is left after `timeout` is
        logged: the reaper will close those rows."""
        with self.cond:
            if self.thread is None:
                return
            self.stopping = True
            self.cond.notify_all()
        self.thread.join(timeout)
        with self.cond:
            if self.queue:
                log.error("recorder: %d generations not written at exit (the reaper will close "
                          "them as abandoned): %s", len(self.queue),
                          ", ".join(str(e.admission.generation.pk) for e in self.queue))

    def _start(self) -> None:
        if self.thread is None:
            atexit.register(self.close)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="dihya-recorder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.stopping:
                    self.cond.wait(1.0)  # a timeout: a signal may never wake a bare wait
                if not self.queue:
                    break
                window_ends = time.monotonic() + settings.DIHYA_RECORD_BATCH_MS / 1000
                while (len(self.queue) < settings.DIHYA_RECORD_BATCH_MAX and not self.stopping
                       and self.flush_to <= self.settled
                       and (left := window_ends - time.monotonic()) > 0):
                    self.cond.wait(left)
                limit = settings.DIHYA_RECORD_BATCH_MAX
                batch, self.queue = self.queue[:limit], self.queue[limit:]
            try:
                write(batch)
                hops.tidy()  # the connection hygiene of a request's end (dihya.generation.hops)
            finally:
                with self.cond:
                    self.settled += len(batch)
                    self.cond.notify_all()
        connection.close()

    def _forked(self) -> None:
        """In a forked child: the parent's queue and thread are not ours."""
        self.__init__()  # type: ignore[misc]


recorder = Recorder()
os.register_at_fork(after_in_child=recorder._forked)


def submit(admission: Admission, attempts: list[AttemptRecord], usage: Usage | None) -> None:
    recorder.submit(Ended(admission, attempts, usage))


def flush(timeout: float = 30.0) -> bool:
    return recorder.flush(timeout)


def write(batch: list[Ended]) -> None:
    """Write a batch in one transaction; if that fails, each run in its own. Never raises."""
    try:
        _write(batch, together=True)
    except Exception:
        log.exception("recorder: a batch of %d generations could not be written together; "
                      "writing them one by one", len(batch))
        for ended in batch:
            try:
                _write([ended], together=False)
            except Exception:
                log.exception("recorder: generation %s could not be recorded; it stays running "
                              "and the reaper will close it as abandoned",
                              ended.admission.generation.pk)


def _write(batch: list[Ended], *, together: bool) -> None:
    with hops.one_writer(), transaction.atomic():
        mine, others = _fence(batch)
        _update(mine)
        Attempt.objects.bulk_create([
            Attempt(generation_id=e.admission.generation.pk, engine_id=a.engine_id or None,
                    engine_name=a.engine, position=a.position, outcome=a.outcome,
                    latency_ms=a.latency_ms, status_code=a.status_code, detail=a.detail,
                    created=e.admission.generation.finished or timezone.now())
            for e in mine for a in e.attempts])
        # Gate by gate, as `write_end` calls them, so the audit chain's lock is still the last.
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


def _update(mine: list[Ended]) -> None:
    """Each run's end on its row: one prepared UPDATE, executed for all (still fenced)."""
    if not mine:
        return
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
        cursor.executemany(sql, rows)


def column(field: Any) -> str:
    return str(field.column)
