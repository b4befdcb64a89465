"""Who runs next: batch lines handed to the workers in small slices, fairly, after jobs.

Live API calls never wait here: they are served by the web processes and never go through
django-q2. Queued jobs (the jobs API, the admin's tests) go first: while DIHYA_BATCH_JOBS_AHEAD
or more jobs wait in the queue, no batch line is added to it (django-q2 has no priorities,
so batch lines are kept out of its queue rather than put behind). Among batches, each client
may have at most DIHYA_BATCH_INFLIGHT_PER_CLIENT lines queued or running, taken round-robin
from its batches: a client's 50,000 lines and another's 100 both progress, at the same pace.
(The cap is read then written: two top-ups at the same instant may queue a few lines more.)

Engines' batch shares (`Engine.batch_share`, held by `fallbacks.slots` when a line's run picks
an engine) are not the scheduler's: lines are not bound to an engine before they run. A line
whose route has every engine at its share goes back to pending (`put_back`, its delivery not
counted) and is queued again by a later top-up — when a batch line ends and frees a ticket,
or by the sweep; putting it back tops nothing up, so a full share never makes lines spin.

A line is handed over by a conditional UPDATE pending → queued and claimed by a worker queued →
running (deliveries + 1), so a task delivered twice runs its line once. A line whose worker
died (running past DIHYA_JOB_DEADLINE + DIHYA_REAP_GRACE) goes back to the queue, at most
DIHYA_MAX_DELIVERIES times; its generation, if admitted, is failed by the reaper and its
quota reservation given back, so the line is charged once, by the run that ends it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from dihya.batches import lifecycle
from dihya.batches.models import Batch, BatchLine
from dihya.gateway import broker
from dihya.gateway.models import Generation
from dihya.generation.reconnect import claimed, retrying

TASK = "dihya.tasks.run_batch_line"
L = BatchLine.Status


def hand_over(line_ids: list[str]) -> None:
    """Give lines to django-q2 once their `queued` status is committed; those the broker
    refuses are sent again as soon as it answers (`dihya.gateway.broker`), or by the sweep."""
    def send() -> None:
        for line_id in line_ids:
            broker.send(TASK, line_id, name=f"batch line {line_id}", group="batches")
    transaction.on_commit(send)


def jobs_waiting() -> int:
    return Generation.objects.filter(status=Generation.Status.QUEUED).count()


def top_up() -> int:
    """Queue lines up to each client's share; returns how many were queued."""
    if jobs_waiting() >= settings.DIHYA_BATCH_JOBS_AHEAD:
        return 0
    cap = settings.DIHYA_BATCH_INFLIGHT_PER_CLIENT
    busy = dict(BatchLine.objects.filter(status__in=(L.QUEUED, L.RUNNING))
                .values_list("client").annotate(n=Count("pk")).values_list("client", "n"))
    open_batches: dict[int, list[str]] = defaultdict(list)
    for batch_id, client_id in Batch.objects.filter(status=Batch.Status.IN_PROGRESS).order_by(
            "created_at").values_list("pk", "client_id"):
        open_batches[client_id].append(batch_id)
    queued = 0
    for client_id, batch_ids in open_batches.items():
        room = cap - busy.get(client_id, 0)
        if room > 0:
            queued += _queue(batch_ids, room)
    return queued


def _queue(batch_ids: list[str], room: int) -> int:
    """Up to `room` pending lines, taken in turn from each batch (oldest lines first)."""
    picks: list[UUID] = []
    per_batch = {b: list(BatchLine.objects.filter(batch_id=b, status=L.PENDING)
                         .order_by("position").values_list("pk", flat=True)[:room])
                 for b in batch_ids}
    while len(picks) < room and any(per_batch.values()):
        for lines in per_batch.values():
            if lines and len(picks) < room:
                picks.append(lines.pop(0))
    if not picks:
        return 0
    with transaction.atomic():
        now = timezone.now()
        mine = list(BatchLine.objects.filter(pk__in=picks, status=L.PENDING)
                    .values_list("pk", flat=True))
        BatchLine.objects.filter(pk__in=mine, status=L.PENDING).update(status=L.QUEUED,
                                                                       queued_at=now)
        hand_over([str(pk) for pk in mine])
    return len(mine)


def claim(line_id: UUID | str) -> BatchLine | None:
    """Move a queued line to running; None if another worker has it, or it was cancelled
    (through a lost connection too: `reconnect.claimed`)."""
    rows = BatchLine.objects.filter(pk=line_id)
    if not claimed(rows, L.QUEUED, L.RUNNING):
        return None
    return retrying(rows.select_related("batch", "batch__key", "client").get)


def put_back(line_id: UUID, deliveries: int) -> str:
    """A running line (this run's: same deliveries) that ran nothing, back to pending; or
    cancelled, if its batch is being cancelled (the lines not started are). Returns the
    line's new status, "" if the line is no longer this run's."""
    mine = BatchLine.objects.filter(pk=line_id, status=L.RUNNING, deliveries=deliveries)
    if mine.filter(batch__status=Batch.Status.IN_PROGRESS).update(
            status=L.PENDING, deliveries=F("deliveries") - 1, started=None, queued_at=None):
        return L.PENDING
    if mine.update(status=L.CANCELLED, finished=timezone.now()):
        return L.CANCELLED
    return ""


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """The batches' reaper: re-queue lines whose worker died, re-send lines whose task was
    lost, expire what the window left, finalize what is done, and top up."""
    now = now or timezone.now()
    stuck_before = now - dt.timedelta(seconds=settings.DIHYA_JOB_DEADLINE
                                      + settings.DIHYA_REAP_GRACE)
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    stuck = BatchLine.objects.filter(status=L.RUNNING, started__lt=stuck_before)
    for pk, deliveries, batch_id in stuck.values_list("pk", "deliveries", "batch_id")[:500]:
        if deliveries >= settings.DIHYA_MAX_DELIVERIES:
            counts["failed"] += end(pk, deliveries, L.FAILED, 503, {"error": {
                "message": f"No worker finished this request in {deliveries} deliveries.",
                "type": "service_unavailable", "param": None, "code": "worker_lost"}})
            lifecycle.finish_if_done(batch_id)
        elif stuck.filter(pk=pk, deliveries=deliveries).update(status=L.QUEUED, queued_at=now):
            counts["requeued"] += 1
            hand_over([str(pk)])
    lost_before = now - dt.timedelta(seconds=settings.DIHYA_REAP_QUEUED_AFTER)
    lost = list(BatchLine.objects.filter(status=L.QUEUED, queued_at__lt=lost_before)
                .values_list("pk", flat=True)[:500])
    if lost:
        BatchLine.objects.filter(pk__in=lost, status=L.QUEUED).update(queued_at=now)
        hand_over([str(pk) for pk in lost])
        counts["resent"] = len(lost)
    counts["expired"] = lifecycle.expire(now)
    # A line put back as its batch's cancel went by: cancelled like the batch's other lines.
    BatchLine.objects.filter(batch__status=Batch.Status.CANCELLING,
                             status__in=BatchLine.NOT_STARTED).update(status=L.CANCELLED,
                                                                      finished=now)
    for batch_id in Batch.objects.filter(status__in=(Batch.Status.IN_PROGRESS,
                                                     Batch.Status.CANCELLING)).values_list(
            "pk", flat=True):
        lifecycle.finish_if_done(batch_id)
    counts["queued"] = top_up()
    return counts


def end(line_id: UUID, deliveries: int, status: str, status_code: int,
        response: dict[str, object] | None, generation_id: UUID | None = None) -> bool:
    """End a running line (this run's only: same deliveries) and count it on its batch; in
    the caller's transaction, so that the line's end and its generation's are one."""
    with transaction.atomic():
        line = BatchLine.objects.filter(pk=line_id, status=L.RUNNING, deliveries=deliveries)
        if not line.update(status=status, status_code=status_code, response=response,
                           generation_id=generation_id, finished=timezone.now()):
            return False
        batch_id = BatchLine.objects.values_list("batch_id", flat=True).get(pk=line_id)
        counter = "completed" if status == L.SUCCEEDED else "failed"
        Batch.objects.filter(pk=batch_id).update(**{counter: F(counter) + 1})
    return True
