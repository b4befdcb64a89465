"""Delivering one alert on one channel, with retries and backoff, every attempt logged.

A delivery is claimed by a conditional UPDATE on its attempt count, so a task delivered twice
by the broker sends once per attempt. A failed attempt schedules the next one (django-q2
one-off schedule) after a growing pause; after the last, the delivery is marked failed.
"""

from __future__ import annotations

import datetime as dt
import logging

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from dihya.lib import outbound
from quotas import alerts, webhooks
from quotas.models import AlertDelivery

log = logging.getLogger(__name__)

BACKOFF = (30, 120, 600, 1800)  # seconds before attempts 2, 3, 4, 5
MAX_ATTEMPTS = len(BACKOFF) + 1


def deliver(delivery_id: str) -> str:
    """Make one attempt. Returns the delivery's status afterwards."""
    delivery = AlertDelivery.objects.select_related("alert").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != AlertDelivery.Status.PENDING:
        return delivery.status if delivery else "missing"
    claimed = AlertDelivery.objects.filter(
        pk=delivery.pk, status=AlertDelivery.Status.PENDING, attempts=delivery.attempts,
    ).update(attempts=F("attempts") + 1)
    if not claimed:
        return "claimed elsewhere"
    attempt = delivery.attempts + 1
    code: int | None = None
    error = ""
    permanent = False
    try:
        if delivery.channel == "email":
            a = delivery.alert
            send_mail(f"[Dihya] {a.message[:120]}", a.message, None,
                      list(settings.DIHYA_ALERT_EMAILS))
        else:
            response = webhooks.post(delivery.target, delivery.alert)
            code = response.status_code
            if not response.is_success:
                error = f"HTTP {code}"
    except outbound.UnsafeURL as exc:
        error, permanent = f"refused: {exc}"[:500], True
    except (httpx.HTTPError, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]

    fields: dict[str, object] = {"response_code": code, "error": error, "next_attempt": None}
    if not error:
        fields["status"] = AlertDelivery.Status.DELIVERED
    elif permanent or attempt >= MAX_ATTEMPTS:
        fields["status"] = AlertDelivery.Status.FAILED
    else:
        fields["next_attempt"] = timezone.now() + dt.timedelta(seconds=BACKOFF[attempt - 1])
    AlertDelivery.objects.filter(pk=delivery.pk).update(**fields)
    if fields["next_attempt"]:
        log.info("alert delivery %s attempt %d failed (%s), retrying", delivery.pk, attempt, error)
        alerts.enqueue(delivery.pk, at=fields["next_attempt"],  # type: ignore[arg-type]
                      attempt=attempt + 1)
    return str(fields.get("status", AlertDelivery.Status.PENDING))
