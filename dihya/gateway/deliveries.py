"""The one deliverer of outbound notifications: job callbacks and quota alerts alike.

`queue()` writes a `Delivery` row — the promise, in the caller's transaction — and hands it
to a django-q2 worker once that commits. `deliver()` makes one attempt: it claims the row by a
conditional UPDATE on its attempt count (a task the broker delivers twice sends once per
attempt), sends through `dihya.lib.outbound` (signed, SSRF-guarded, timeouts set) or by
e-mail, and records the answer. A failed attempt schedules the next after a growing pause
(a django-q2 one-off schedule, created idempotently); after the last it is marked failed. A
refused URL (private address, bad scheme) fails at once: it will not become deliverable.

This module never sends anything but the frozen payload, and never logs a body.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any

import httpx
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from dihya.gateway.models import ApiClient, Delivery
from dihya.lib import outbound

log = logging.getLogger(__name__)

TASK = "dihya.tasks.deliver"
BACKOFF = (30, 120, 600, 3600, 21600)  # seconds before attempts 2..6: about 7 hours in all
MAX_ATTEMPTS = len(BACKOFF) + 1


def queue(kind: str, target: str, payload: dict[str, Any], *,
          channel: str = Delivery.Channel.WEBHOOK, client: ApiClient | None = None,
          generation_id: Any = None, alert_id: int | None = None) -> Delivery:
    """Record a notification to send, and send it once the caller's transaction commits."""
    delivery = Delivery.objects.create(kind=kind, channel=channel, target=target[:500],
                                       payload=payload, client=client,
                                       generation_id=generation_id, alert_id=alert_id)
    transaction.on_commit(partial(hand_over, delivery.pk))
    return delivery


def hand_over(delivery_id: Any, *, at: dt.datetime | None = None, attempt: int = 1) -> None:
    """Give the delivery to a worker now, or (a retry) at `at`."""
    from django_q.models import Schedule
    from django_q.tasks import async_task

    if at is None:
        async_task(TASK, str(delivery_id), task_name=f"delivery {delivery_id}",
                   group="deliveries")
        return
    Schedule.objects.update_or_create(
        name=f"delivery {delivery_id} #{attempt}",
        defaults={"func": TASK, "args": repr((str(delivery_id),)),
                  "schedule_type": Schedule.ONCE, "repeats": 1, "next_run": at})


def deliver(delivery_id: str) -> str:
    """Make one attempt. Returns the delivery's status afterwards (the task's result)."""
    delivery = Delivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return delivery.status if delivery else "missing"
    claimed = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING,
                                      attempts=delivery.attempts).update(
        attempts=F("attempts") + 1)
    if not claimed:
        return "claimed elsewhere"
    attempt = delivery.attempts + 1
    code, error, permanent = send(delivery)
    fields: dict[str, Any] = {"response_code": code, "error": error[:500], "next_attempt": None}
    if not error:
        fields["status"] = Delivery.Status.DELIVERED
    elif permanent or attempt >= MAX_ATTEMPTS:
        fields["status"] = Delivery.Status.FAILED
    else:
        fields["next_attempt"] = timezone.now() + dt.timedelta(seconds=BACKOFF[attempt - 1])
    Delivery.objects.filter(pk=delivery.pk).update(**fields)
    if fields["next_attempt"]:
        log.info("delivery %s (%s) attempt %d failed (%s), retrying", delivery.pk,
                 delivery.kind, attempt, error)
        hand_over(delivery.pk, at=fields["next_attempt"], attempt=attempt + 1)
    elif error:
        log.warning("delivery %s (%s) failed for good after %d attempt(s): %s", delivery.pk,
                    delivery.kind, attempt, error)
    return str(fields.get("status", Delivery.Status.PENDING))


def send(delivery: Delivery) -> tuple[int | None, str, bool]:
    """(response code, error or "", whether the error is permanent)."""
    if delivery.channel == Delivery.Channel.EMAIL:
        try:
            send_mail(delivery.payload.get("subject", "[Dihya]"),
                      delivery.payload.get("message", ""), None,
                      [t.strip() for t in delivery.target.split(",") if t.strip()])
        except OSError as exc:
            return None, f"{type(exc).__name__}: {exc}", False
        return None, "", False
    try:
        response = outbound.post_signed(delivery.target, delivery.payload, secret_for(delivery))
    except outbound.UnsafeURL as exc:
        return None, f"refused: {exc}", True
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}", False
    if not response.is_success:
        return response.status_code, f"HTTP {response.status_code}", False
    return response.status_code, "", False


def secret_for(delivery: Delivery) -> str:
    """The signing secret of a delivery's receiver (raises UnsafeURL when there is none)."""
    return outbound.secret()
