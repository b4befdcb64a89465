"""Quota alerts: noticing a threshold crossing, recording it once, and fanning it out.

A crossing is noticed by the reservation (or settlement) whose increment carries a counter
over `threshold` % of its limit: that transaction holds the counter's row, so it knows the value
before and after its own increment. The alert is written only once that transaction commits
(a refused, rolled-back call alerts nobody), with a unique constraint on subject, limit,
threshold and window: two processes that both see the crossing (after a release lowered the
counter, say) insert one row between them, and only the one that inserted it delivers.

Alerts carry the pseudonymous subject and numbers, never a prompt or a `user` string. How an
alert leaves is not this module's business: it announces it (`quotas.signals.alert_raised`)
and the wiring delivers it (e-mail and signed webhooks, `dihya.gateway.deliveries`).
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from quotas import signals
from quotas.models import Alert

if TYPE_CHECKING:
    from quotas.bounds import Standing

log = logging.getLogger(__name__)

def crossed(standing: Standing, n: int) -> list[int]:
    """Thresholds (percent) that this increment of `n` carried the counter over."""
    b = standing.bound
    if n <= 0 or b.amount <= 0:
        return []
    after = standing.used
    before = after - n
    return [t for t in b.alerts if before * 100 < t * b.amount <= after * 100]


def check(standing: Standing, n: int) -> None:
    for threshold in crossed(standing, n):
        b = standing.bound
        fields = {
            "kind": Alert.Kind.THRESHOLD, "subject": b.subject, "metric": b.metric,
            "period": b.period, "threshold": threshold, "window_start": standing.window_start,
            "amount": b.amount, "used": standing.used,
            "message": (f"{b.subject} reached {threshold} % of {b.amount} {b.metric} per "
                        f"{b.period} (plan {b.plan!r}): {standing.used} used; resets at "
                        f"{standing.resets_at.isoformat()}.")[:300],
        }
        transaction.on_commit(partial(raise_alert, **fields))


def engine_out_of_quota(engine_name: str, until: dt.datetime, detail: str = "") -> Alert | None:
    """Alert that an engine's provider said it is out of quota until `until`.

    For the circuit breaker (`fallbacks.breaker`), which owns the cooldown itself: call this
    when an engine enters a `quota_cooldown`. Synchronous (from async code, wrap it in
    `sync_to_async`). One alert per engine and reset time, however many processes notice.
    """
    until = until.replace(microsecond=0)
    message = f"Engine {engine_name} is out of quota until {until.isoformat()}"
    if detail:
        message += f" ({detail})"
    return raise_alert(kind=Alert.Kind.ENGINE_QUOTA, subject=f"engine:{engine_name}"[:80],
                       metric="", period="", threshold=100, window_start=until,
                       message=message[:300])


def raise_alert(**fields: object) -> Alert | None:
    """Insert the alert unless it exists; deliver it if this call inserted it."""
    try:
        with transaction.atomic():
            alert = Alert.objects.create(**fields)
    except IntegrityError:
        return None  # someone else raised it: they deliver it
    dispatch(alert)
    return alert


def dispatch(alert: Alert) -> None:
    log.warning("quota alert: %s", alert.message)
    signals.alert_raised.send(sender=Alert, alert=alert)


def payload(alert: Alert) -> dict[str, Any]:
    """The alert as a webhook receiver gets it: pseudonymous subject and numbers only."""
    return {
        "type": "quota.alert" if alert.kind == Alert.Kind.THRESHOLD else "engine.out_of_quota",
        "alert": {"id": alert.pk, "kind": alert.kind, "subject": alert.subject,
                  "metric": alert.metric, "period": alert.period, "threshold": alert.threshold,
                  "limit": alert.amount, "used": alert.used,
                  "window_start": alert.window_start.isoformat(), "message": alert.message,
                  "created": alert.created.isoformat()},
    }


def acknowledge(alerts: object, who: str) -> int:
    """Mark alerts as seen (the admin's action). Returns how many were still open."""
    return alerts.filter(acknowledged__isnull=True).update(  # type: ignore[attr-defined]
        acknowledged=timezone.now(), acknowledged_by=who[:150])
