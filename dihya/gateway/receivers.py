"""The gateway's wiring between apps that must not know each other.

- an engine out of quota (fallbacks) raises an alert (quotas);
- a breaker forced by an admin (fallbacks) is an audit event (audit);
- a quota alert (quotas) leaves by e-mail and signed webhook (the one deliverer);
- the `cheapest` routing strategy (fallbacks) ranks by the engine prices of quotas.

Connected once, in `GatewayConfig.ready()`. Each receiver is one call into a verb of the app
on the other side; none holds logic of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from audit import log as audit_log
from dihya.gateway import deliveries
from dihya.gateway.models import Delivery
from fallbacks import catalog
from fallbacks import signals as fallbacks_signals
from quotas import alerts, plans
from quotas import signals as quotas_signals
from quotas.models import Alert


def engine_out_of_quota(sender: Any, engine_name: str, until: dt.datetime, detail: str = "",
                        **kwargs: Any) -> None:
    alerts.engine_out_of_quota(engine_name, until, detail)


def breaker_forced(sender: Any, engine_name: str, state: str, actor: str, reason: str,
                   **kwargs: Any) -> None:
    """The actor is a console user's username (a person, pseudonymised in the log) or the name
    of a process that forced it."""
    User = get_user_model()
    is_person = User._default_manager.filter(**{User.USERNAME_FIELD: actor}).exists()
    audit_log.record("breaker_forced", actor=audit_log.person(actor) if is_person else actor,
                     engine=engine_name, details={"state": state, "reason": reason[:300]})


def alert_raised(sender: Any, alert: Alert, **kwargs: Any) -> None:
    """One delivery per channel the deployment configured (DIHYA_ALERT_EMAILS, _WEBHOOKS)."""
    recipients = list(settings.DIHYA_ALERT_EMAILS)
    if recipients:
        deliveries.queue(Delivery.Kind.ALERT, ", ".join(recipients),
                         {"subject": f"[Dihya] {alert.message[:120]}", "message": alert.message},
                         channel=Delivery.Channel.EMAIL, alert_id=alert.pk)
    body = alerts.payload(alert)
    for url in settings.DIHYA_ALERT_WEBHOOKS:
        deliveries.queue(Delivery.Kind.ALERT, url, body, alert_id=alert.pk)


def engine_prices(engine_ids: Iterable[int]) -> dict[int, tuple[float, float]]:
    return {e: (float(i), float(o)) for e, (i, o) in plans.prices(engine_ids).items()}


def connect() -> None:
    catalog.use_prices(engine_prices)
    fallbacks_signals.engine_out_of_quota.connect(engine_out_of_quota,
                                                  dispatch_uid="dihya.engine_out_of_quota")
    fallbacks_signals.breaker_forced.connect(breaker_forced, dispatch_uid="dihya.breaker_forced")
    quotas_signals.alert_raised.connect(alert_raised, dispatch_uid="dihya.alert_raised")
