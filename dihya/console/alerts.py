"""Quota alerts in words an admin reads: who (by name), what, and when (local time, seconds).

An alert's stored `message` is what its deliveries carried: pseudonymous subject and UTC ISO
times, on purpose (quotas.alerts). The console says the same from the alert's fields, with
the subject named (dihya.console.subjects) and times in the console's time zone.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import formats, timezone

from dihya.console import subjects
from quotas.models import Alert


def when(at: object) -> str:
    return formats.date_format(timezone.localtime(at), "SHORT_DATETIME_FORMAT")  # type: ignore[arg-type]


def describe(alert: Alert, named: dict[str, str]) -> str:
    who = subjects.label(alert.subject, named)
    if alert.kind == Alert.Kind.ENGINE_QUOTA:
        return f"{who.capitalize()} is out of quota until {when(alert.window_start)}."
    return (f"{who} reached {alert.threshold} % of {alert.amount} {alert.metric} per "
            f"{alert.period}: {alert.used} used (window from {when(alert.window_start)}).")


def described(alerts: Iterable[Alert]) -> list[tuple[Alert, str]]:
    alerts = list(alerts)
    named = subjects.names(a.subject for a in alerts)
    return [(a, describe(a, named)) for a in alerts]
