"""The one deliverer of outbound notifications: job callbacks and quota alerts alike.

`queue()` writes a `Delivery` row — the promise, in the caller's transaction — and hands it
to a django-q2 worker once that commits. `deliver()` makes one attempt: it claims the row by a
conditional UPDATE on its attempt count (a task the broker delivers twice sends once per
attempt), sends through `dihya.lib.outbound` (signed with the receiver's own secret,
`secret_for`; SSRF-guarded; under a total deadline; at most a few KB of the answer read) or
by e-mail, and records the answer. A failed attempt schedules the next after a growing pause
(a django-q2 one-off schedule, created idempotently); after the last it is marked failed. A
refused URL (private address, bad scheme) fails at once: it will not become deliverable.

Deliveries share django-q2's workers with generation jobs, so slow receivers must not take
them all: the same claim takes a lease (`sending_until`, the deadline and a margin) only
while fewer than DIHYA_DELIVERY_SLOTS deliveries hold one; otherwise the delivery is put off
a few seconds without counting an attempt. A worker that dies mid-send frees its slot when
the lease runs out. One statement, so exact where writes serialize (SQLite); on PostgreSQL
concurrent claims may overshoot by the few that raced. Chosen over a second django-q2
cluster for deliveries (ALT_CLUSTERS), which would need a process of its own in every setup
and sends nothing when that process is forgotten.

This module never sends anything but the frozen payload, and never logs a body.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Func, IntegerField, Subquery
from django.utils import timezone

from dihya.gateway import broker
from dihya.gateway.models import ApiClient, Delivery
from dihya.lib import outbound, sealing

log = logging.getLogger(__name__)

TASK = "dihya.tasks.deliver"
BACKOFF = (30, 120, 600, 3600, 21600)  # seconds before attempts 2..6: about 7 hours in all
MAX_ATTEMPTS = len(BACKOFF) + 1
PUT_OFF = 5  # seconds a delivery waits when every delivery slot is taken


def queue(kind: str, target: str, payload: dict[str, Any], *,
          channel: str = Delivery.Channel.WEBHOOK, client: ApiClient | None = None,
          generation_id: Any = None, alert_id: int | None = None) -> Delivery:
    """Record a notification to send, and send it once the caller's transaction commits.

    A webhook's body names what it is, for whom and where it goes (`"dihya": {"kind",
    "client", "url"}`), inside what is signed: a receiver that checks them cannot be handed a
    body signed for someone else (the same secret shared by mistake, a body replayed to
    another URL)."""
    if channel == Delivery.Channel.WEBHOOK:
        payload = {**payload, "dihya": {"kind": kind, "client": client.name if client else None,
                                        "url": target}}
    delivery = Delivery.objects.create(kind=kind, channel=channel, target=target[:500],
                                       payload=payload, client=client,
                                       generation_id=generation_id, alert_id=alert_id)
    transaction.on_commit(partial(hand_over, delivery.pk))
    return delivery


def hand_over(delivery_id: Any, *, at: dt.datetime | None = None, attempt: int = 1) -> None:
    """Give the delivery to a worker now, or (a retry) at `at`."""
    from django_q.models import Schedule

    if at is None:  # a refused task is sent again as soon as the broker answers
        broker.send(TASK, str(delivery_id), name=f"delivery {delivery_id}", group="deliveries")
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
    now = timezone.now()
    in_flight = Subquery(Delivery.objects.filter(sending_until__gt=now).order_by()
                         .annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
                         .values("n"))
    claimed = (Delivery.objects
               .filter(pk=delivery.pk, status=Delivery.Status.PENDING, attempts=delivery.attempts)
               .alias(in_flight=in_flight).filter(in_flight__lt=settings.DIHYA_DELIVERY_SLOTS)
               .update(attempts=F("attempts") + 1,
                       sending_until=now + dt.timedelta(seconds=outbound.DELIVERY_DEADLINE + 15)))
    if not claimed:
        if Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING,
                                   attempts=delivery.attempts).exists():
            hand_over(delivery.pk, at=now + dt.timedelta(seconds=PUT_OFF),
                      attempt=delivery.attempts + 1)
            return "deferred"
        return "claimed elsewhere"
    attempt = delivery.attempts + 1
    code, error, permanent = send(delivery)
    fields: dict[str, Any] = {"response_code": code, "error": error[:500], "next_attempt": None,
                              "sending_until": None}
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
    except outbound.NotResolved as exc:  # DNS may answer later
        return None, str(exc), False
    except outbound.UnsafeURL as exc:
        return None, f"refused: {exc}", True
    except sealing.SealError as exc:  # DIHYA_ENCRYPTION_KEY lost an old key: fixable
        return None, str(exc), False
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}", False
    if not response.is_success:
        return response.status_code, f"HTTP {response.status_code}", False
    return response.status_code, "", False


def secret_for(delivery: Delivery) -> str:
    """The signing secret of a delivery's receiver (raises UnsafeURL when there is none).

    A job callback: its client's own secret (a client from before those secrets: the shared
    DIHYA_WEBHOOK_SECRET until one is rotated in). A quota alert: the operator's
    DIHYA_ALERT_WEBHOOK_SECRET, or DIHYA_WEBHOOK_SECRET where that is not set (the setting
    of earlier versions, which also signed callbacks: set the new one)."""
    if delivery.kind == Delivery.Kind.ALERT:
        secret = settings.DIHYA_ALERT_WEBHOOK_SECRET or settings.DIHYA_WEBHOOK_SECRET
        missing = "DIHYA_ALERT_WEBHOOK_SECRET (or DIHYA_WEBHOOK_SECRET) is not set"
    elif delivery.client is None:
        raise outbound.UnsafeURL("the job's client no longer exists: nobody to sign for")
    else:
        secret = delivery.client.signing_key() or settings.DIHYA_WEBHOOK_SECRET
        missing = (f"client {delivery.client.name!r} has no signing secret (rotate one in "
                   "the admin) and DIHYA_WEBHOOK_SECRET is not set")
    if not secret:
        raise outbound.UnsafeURL(f"{missing}: the notification would be unsigned")
    return secret
