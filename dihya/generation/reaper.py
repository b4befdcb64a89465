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
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from dihya.gateway.models import Generation
from dihya.generation import gates, jobs, pipeline
from fallbacks import catalog
from fallbacks.spec import RouteSpec

log = logging.getLogger(__name__)

SCHEDULE = "dihya reaper"
RUNNING, QUEUED, FAILED = (Generation.Status.RUNNING, Generation.Status.QUEUED,
                           Generation.Status.FAILED)


def max_deliveries() -> int:
    return getattr(settings, "DIHYA_MAX_DELIVERIES", 3)


def reap(now: dt.datetime | None = None) -> dict[str, int]:
    """One pass: returns how many jobs were re-queued, failed and nudged."""
    now = now or timezone.now()
    grace = getattr(settings, "DIHYA_REAP_GRACE", 30.0)
    stuck_before = now - dt.timedelta(seconds=settings.DIHYA_JOB_DEADLINE + grace)
    counts = {"requeued": 0, "failed": 0, "nudged": nudge_queued(now)}
    stuck = Generation.objects.filter(status=RUNNING, started__lt=stuck_before)
    for gid, deliveries in stuck.values_list("pk", "deliveries")[:500]:
        mine = Generation.objects.filter(pk=gid, status=RUNNING, deliveries=deliveries,
                                         started__lt=stuck_before)
        if deliveries == 0:
            counts["failed"] += fail(gid, mine, now, "abandoned", "the process serving this "
                                     "request stopped before it ended")
        elif deliveries >= max_deliveries():
            counts["failed"] += fail(gid, mine, now, "worker_lost", "no worker finished this "
                                     f"job in {deliveries} deliveries")
        elif mine.update(status=QUEUED, started=None):
            counts["requeued"] += 1
            jobs.enqueue(Generation(pk=gid))
    if any(counts.values()):
        log.warning("reaper: %s", counts)
    return counts


def fail(gid: Any, mine: QuerySet[Generation], now: dt.datetime, code: str, message: str) -> int:
    """Fail a stuck generation and tell the gates, as the pipeline would (the quota gate
    releases its reservation, the audit gate records the end)."""
    with transaction.atomic():
        if not mine.update(status=FAILED, finished=now, error_code=code, error_message=message):
            return 0  # it finished meanwhile
        g = Generation.objects.select_related("client").get(pk=gid)
        route = catalog.route_spec(g.route_name) or RouteSpec(
            id=0, name=g.route_name, strategy="ordered", max_tokens=0, engines=())
        admission = pipeline.Admission(
            generation=g, route=route, request=pipeline.request_from_record(g.request),
            caller=pipeline.Caller(client=g.client, source=g.source))
        for gate in gates.active():
            gate.finish(admission, None)
    return 1


def nudge_queued(now: dt.datetime) -> int:
    """Re-enqueue jobs queued for long: their task may be lost (the Redis broker's crash).

    A duplicate task is harmless (the claim lets one run); the cache key keeps a job from
    being re-enqueued on every pass while workers are merely busy.
    """
    after = getattr(settings, "DIHYA_REAP_QUEUED_AFTER", 300.0)
    old = Generation.objects.filter(status=QUEUED, created__lt=now - dt.timedelta(seconds=after))
    nudged = 0
    for gid in old.values_list("pk", flat=True)[:500]:
        if cache.add(f"reaper:nudged:{gid}", 1, timeout=after):
            jobs.enqueue(Generation(pk=gid))
            nudged += 1
    return nudged


def schedule(**kwargs: Any) -> None:
    """The reaper's schedule, every minute, created idempotently (post_migrate)."""
    from django_q.models import Schedule

    Schedule.objects.using(kwargs.get("using") or "default").update_or_create(
        name=SCHEDULE, defaults={"func": "dihya.generation.reaper.reap", "schedule_type": Schedule.MINUTES,
                                 "minutes": 1, "repeats": -1})
