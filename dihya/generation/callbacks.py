"""Job callbacks: when a job with a `callback_url` ends, POST its report there, signed.

The body is the same JSON the jobs API answers for GET /api/v1/generations/{id}. It leaves
through `dihya.lib.outbound` like every notification: signed `X-Dihya-Signature: t=<unix
time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` with DIHYA_WEBHOOK_SECRET, its URL checked
against private addresses (at submission and again at delivery, as DNS may change), no
redirect followed, timeouts always set.

Deliveries are django-q2 tasks that carry the generation's id only. A failed delivery (network
error, timeout, non-2xx, a redirect) is retried on a django-q2 schedule with growing delays,
then given up and logged. This module must never send anything but the report.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

import httpx
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task, schedule

from dihya.gateway.models import Generation
from dihya.generation.errors import Refusal
from dihya.lib import outbound

log = logging.getLogger(__name__)

TASK = "dihya.generation.callbacks.deliver"
BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10),
           timedelta(hours=1), timedelta(hours=6))  # then give up: 6 tries over ~7.5 hours


def checked_url(url: str) -> str:
    """Refuse at submission what may not or could never be delivered (400 on `callback_url`)."""
    try:
        outbound.check_url(url)
    except outbound.UnsafeURL as exc:
        raise Refusal(400, "invalid_request", f"callback_url refused: {exc}.",
                      param="callback_url") from None
    return url


def epoch(moment: Any) -> int | None:
    return int(moment.timestamp()) if moment else None


def report(g: Generation) -> dict[str, Any]:
    """A job as the jobs API and its callbacks describe it."""
    succeeded = g.status == Generation.Status.SUCCEEDED
    return {
        "id": str(g.pk),
        "object": "generation",
        "status": g.status,
        "model": g.route_name,
        "created": epoch(g.created),
        "started": epoch(g.started),
        "finished": epoch(g.finished),
        "engine": g.engine_name or None,
        "result": g.result if succeeded else None,
        "finish_reason": g.finish_reason or None,
        "usage": {"prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
                  "total_tokens": g.prompt_tokens + g.completion_tokens} if succeeded else None,
        "attempts": [{"engine": a.engine_name, "position": a.position, "outcome": a.outcome,
                      "latency_ms": round(a.latency_ms, 1), "status_code": a.status_code}
                     for a in g.attempts.all()],
        "error": ({"code": g.error_code, "message": g.error_message}
                  if g.status in (Generation.Status.FAILED, Generation.Status.CANCELLED)
                  else None),
        "deliveries": g.deliveries,
    }


def announce(generation_id: object) -> None:
    """Queue the first delivery once the job's final state is committed."""
    gid = str(generation_id)
    transaction.on_commit(lambda: async_task(TASK, gid, 1, task_name=f"callback {gid}",
                                             group="callbacks"))


def deliver(generation_id: str, attempt: int = 1) -> str:
    """One delivery try (a django-q2 task). Returns what happened, for the task's result."""
    g = Generation.objects.filter(pk=generation_id).first()
    if g is None or not g.callback_url or not g.is_terminal:
        return "nothing to deliver"
    try:
        response = outbound.post_signed(g.callback_url, report(g), outbound.secret())
        problem = None if response.is_success else f"HTTP {response.status_code}"
    except outbound.UnsafeURL as exc:
        log.warning("callback for generation %s refused: %s", g.pk, exc)
        return f"refused: {exc}"
    except httpx.HTTPError as exc:
        problem = type(exc).__name__
    if problem is None:
        log.info("callback for generation %s delivered (try %d)", g.pk, attempt)
        return "delivered"
    if attempt > len(BACKOFF):
        log.warning("callback for generation %s given up after %d tries: %s", g.pk, attempt,
                    problem)
        return f"given up: {problem}"
    delay = BACKOFF[attempt - 1]
    # A re-delivered task finds its retry already scheduled under the same name.
    with contextlib.suppress(IntegrityError):
        schedule(TASK, str(g.pk), attempt + 1, name=f"callback {g.pk} try {attempt + 1}",
                 next_run=timezone.now() + delay)
    log.info("callback for generation %s failed (%s), retry in %s", g.pk, problem, delay)
    return f"retrying: {problem}"
