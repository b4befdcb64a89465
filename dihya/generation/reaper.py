"""Nothing accepted is lost: find jobs that no worker will finish, and re-queue or fail them.

django-q2's ORM broker re-delivers a task whose worker died; its Redis broker keeps no receipt
and does not. Our generation rows are the truth on both: a job `running` past its deadline
(its worker was killed, or the machine went down) goes back to `queued` with the same
generation id — so a quota reservation keyed by that id is not taken twice — and is handed
to django-q2 again; after `DIHYA_MAX_DELIVERIES` pick-ups it fails with a reason instead.
Completion stays exactly once because a worker must claim the row (`dihya.generation.jobs.claim`, a
conditional UPDATE queued → running) before it runs it, and every transition here is a
conditional UPDATE too: a job that finishes while the reaper looks at it is left alone.

A row `running` that no worker ever claimed (deliveries 0) belongs to a web request whose
process died; its client is gone, so it is failed, not re-run.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from dihya.gateway.models import Generation
from dihya.generation import jobs, pipeline

log = logging.getLogger(__name__)

RUNNING, QUEUED = Generation.Status.RUNNING, Generation.Status.QUEUED


def reap(now: dt.datetime | None = None) -> dict[str, int]:
    """One pass: returns how many jobs were re-queued, failed and nudged."""
    now = now or timezone.now()
    stuck_before = now - dt.timedelta(seconds=settings.DIHYA_JOB_DEADLINE
                                      + settings.DIHYA_REAP_GRACE)
    counts = {"requeued": 0, "failed": 0, "nudged": nudge_queued(now)}
    # A stream still relaying beats every DIHYA_STREAM_HEARTBEAT seconds: not stuck.
    stuck = Generation.objects.filter(Q(heartbeat__isnull=True) | Q(heartbeat__lt=stuck_before),
                                      status=RUNNING, started__lt=stuck_before)
    for gid, deliveries in stuck.values_list("pk", "deliveries")[:500]:
        if deliveries == 0:
            counts["failed"] += pipeline.abandon(
                gid, "abandoned", "the process serving this request stopped before it ended",
                running_since=stuck_before, deliveries=deliveries)
        elif deliveries >= settings.DIHYA_MAX_DELIVERIES:
            counts["failed"] += pipeline.abandon(
                gid, "worker_lost", f"no worker finished this job in {deliveries} deliveries",
                running_since=stuck_before, deliveries=deliveries)
        elif stuck.filter(pk=gid, deliveries=deliveries).update(status=QUEUED, started=None):
            counts["requeued"] += 1
            jobs.enqueue(Generation(pk=gid))
    if any(counts.values()):
        log.warning("reaper: %s", counts)
    return counts


def nudge_queued(now: dt.datetime) -> int:
    """Re-enqueue jobs queued for long: their task may be lost (the Redis broker's crash).

    A duplicate task is harmless (the claim lets one run); the cache key keeps a job from
    being re-enqueued on every pass while workers are merely busy.
    """
    after = settings.DIHYA_REAP_QUEUED_AFTER
    old = Generation.objects.filter(status=QUEUED, created__lt=now - dt.timedelta(seconds=after))
    nudged = 0
    for gid in old.values_list("pk", flat=True)[:500]:
        if cache.add(f"reaper:nudged:{gid}", 1, timeout=after):
            jobs.enqueue(Generation(pk=gid))
            nudged += 1
    return nudged
