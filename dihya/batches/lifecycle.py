"""A batch's life: created from a file, run line by line, cancelled, expired, finalized.

Every move is a conditional UPDATE on a status, so that two workers, the scheduler and a
client's cancel can race without a batch being finalized twice or a line ending twice. The
counts (`completed`, `failed`) are F() increments made in the same transaction as the line's
end. The statuses and the batch object are OpenAI's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from dihya.batches import files
from dihya.batches.models import Batch, BatchFile, BatchLine
from dihya.gateway.models import ApiClient
from dihya.generation.errors import Refusal

WINDOWS = {"24h": dt.timedelta(hours=24)}
S, L = Batch.Status, BatchLine.Status


def not_found(batch_id: str) -> Refusal:
    return Refusal(404, "batch_not_found", f"No such Batch object: {batch_id}", param="id")


def owned(client: ApiClient) -> QuerySet[Batch]:
    return Batch.objects.filter(client=client)


def find(client: ApiClient, batch_id: str) -> Batch:
    found = owned(client).filter(pk=batch_id).first()
    if found is None:
        raise not_found(batch_id)
    return found


def create(client: ApiClient, key_id: int | None, *, input_file_id: str, endpoint: str,
           completion_window: str, metadata: dict[str, str] | None) -> Batch:
    """Check the request, then the file's lines against the endpoint: a line for another
    endpoint fails the batch (`failed`, with `errors` naming the line), as OpenAI's does."""
    if endpoint not in files.ENDPOINTS:
        raise Refusal(400, "invalid_request", f"endpoint must be one of "
                      f"{', '.join(files.ENDPOINTS)}.", param="endpoint")
    if completion_window not in WINDOWS:
        raise Refusal(400, "invalid_request", "completion_window must be \"24h\".",
                      param="completion_window")
    source = files.owned(client).filter(pk=input_file_id, holds=BatchFile.Holds.INPUT).first()
    if source is None:
        raise Refusal(404, "file_not_found", f"No such File object: {input_file_id}",
                      param="input_file_id")
    now = timezone.now()
    batch = Batch(client=client, key_id=key_id, endpoint=endpoint, input_file=source,
                  completion_window=completion_window, metadata=metadata,
                  expires_at=now + WINDOWS[completion_window], created_at=now)
    requests = files.checked_lines(source.content.encode())
    wrong = next((i for i, r in enumerate(requests) if r["url"] != endpoint), None)
    with transaction.atomic():
        if wrong is not None:
            batch.status, batch.failed_at = S.FAILED, now
            batch.errors = {"object": "list", "data": [{
                "code": "invalid_url", "line": wrong + 1, "param": "url",
                "message": f"The line's url {requests[wrong]['url']!r} is not the batch's "
                           f"endpoint {endpoint!r}."}]}
            batch.save(force_insert=True)
            return batch
        batch.status, batch.in_progress_at, batch.total = S.IN_PROGRESS, now, len(requests)
        batch.save(force_insert=True)
        BatchLine.objects.bulk_create(
            (BatchLine(batch=batch, client=client, position=i + 1, custom_id=r["custom_id"],
                       body=r["body"], end_user=str(r["body"].get("user") or
                                                    r["body"].get("safety_identifier") or "")[:256])
             for i, r in enumerate(requests)), batch_size=1000)
    return batch


def batch_object(b: Batch) -> dict[str, Any]:
    def at(value: dt.datetime | None) -> int | None:
        return int(value.timestamp()) if value else None

    return {"id": b.id, "object": "batch", "endpoint": b.endpoint, "errors": b.errors,
            "input_file_id": b.input_file_id, "completion_window": b.completion_window,
            "status": b.status, "output_file_id": b.output_file_id,
            "error_file_id": b.error_file_id, "created_at": at(b.created_at),
            "in_progress_at": at(b.in_progress_at), "expires_at": at(b.expires_at),
            "finalizing_at": at(b.finalizing_at), "completed_at": at(b.completed_at),
            "failed_at": at(b.failed_at), "expired_at": at(b.expired_at),
            "cancelling_at": at(b.cancelling_at), "cancelled_at": at(b.cancelled_at),
            "request_counts": {"total": b.total, "completed": b.completed, "failed": b.failed},
            "metadata": b.metadata}


def cancel(batch: Batch) -> Batch:
    """Stop the lines not started; lines running finish and are kept. The batch is
    `cancelling` until they have, then `cancelled` (at once when none runs)."""
    now = timezone.now()
    with transaction.atomic():
        if Batch.objects.filter(pk=batch.pk, status__in=(S.VALIDATING, S.IN_PROGRESS)).update(
                status=S.CANCELLING, cancelling_at=now):
            batch.lines.filter(status__in=BatchLine.NOT_STARTED).update(
                status=L.CANCELLED, finished=now)
    finish_if_done(batch.pk)
    batch.refresh_from_db()
    return batch


def expire(now: dt.datetime | None = None) -> int:
    """Lines not started by the end of their batch's window are expired; the batch ends
    `expired` once its running lines are done."""
    now = now or timezone.now()
    late = Batch.objects.filter(status=S.IN_PROGRESS, expires_at__lte=now)
    count = 0
    for batch_id in late.values_list("pk", flat=True):
        count += BatchLine.objects.filter(batch_id=batch_id, status__in=BatchLine.NOT_STARTED
                                          ).update(status=L.EXPIRED, finished=now)
        finish_if_done(batch_id)
    return count


def finish_if_done(batch_id: str) -> bool:
    """Finalize a batch none of whose lines is open: write its output and error files and
    give it its last status. Only one caller wins the move to `finalizing`."""
    if BatchLine.objects.filter(batch_id=batch_id, status__in=BatchLine.OPEN).exists():
        return False
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.select_for_update().filter(
            pk=batch_id, status__in=(S.IN_PROGRESS, S.CANCELLING)).first()
        if batch is None or BatchLine.objects.filter(batch_id=batch_id,
                                                     status__in=BatchLine.OPEN).exists():
            return False
        was = batch.status
        Batch.objects.filter(pk=batch_id).update(status=S.FINALIZING, finalizing_at=now)
        counts = dict(batch.lines.values_list("status").annotate(n=Count("pk")).values_list(
            "status", "n"))
        ok = counts.get(L.SUCCEEDED, 0)
        batch.output_file = files.made_file(batch, BatchFile.Holds.OUTPUT, ok)
        batch.error_file = files.made_file(batch, BatchFile.Holds.ERRORS,
                                           sum(counts.values()) - ok)
        if was == S.CANCELLING:
            batch.status, batch.cancelled_at = S.CANCELLED, now
        elif counts.get(L.EXPIRED):
            batch.status, batch.expired_at = S.EXPIRED, now
        else:
            batch.status, batch.completed_at = S.COMPLETED, now
        batch.finalizing_at = now
        batch.save(update_fields=["status", "output_file", "error_file", "finalizing_at",
                                  "cancelled_at", "expired_at", "completed_at"])
    return True


def progress(batch: Batch) -> dict[str, int]:
    """Lines done, failed and left (the console's progress)."""
    counts = batch.lines.aggregate(
        done=Count("pk", filter=Q(status=L.SUCCEEDED)),
        failed=Count("pk", filter=Q(status=L.FAILED)),
        left=Count("pk", filter=Q(status__in=BatchLine.OPEN)))
    return {k: int(v or 0) for k, v in counts.items()}
