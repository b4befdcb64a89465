"""What the quota tables hold about a person: for export, erasure and retention.

Counters, alerts and reservations name people only by `user:<pseudonym>`, yet a pseudonym is
still personal data to the one who holds the key: erasure deletes them (the quota tally's keys
in Redis too), export shows them.
Retention never drops a counter whose window may still be open (a month is at most 31 days),
or the quota of a live window would silently reset. The privacy wiring
(`dihya.privacy.erasure`) calls these with what it knows of the person; this module knows no
account and no generation table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from quotas import tally
from quotas.models import Alert, Counter, Reservation

LONGEST_WINDOW = dt.timedelta(days=32)


def subjects(pseudonyms: Iterable[str]) -> list[str]:
    return [f"user:{s}" for s in pseudonyms]


def collect(pseudonyms: Iterable[str]) -> dict[str, Any]:
    mine = subjects(pseudonyms)
    counters = {(c.subject, c.metric, c.period, c.window_start): c.used
                for c in Counter.objects.filter(subject__in=mine)}
    if tally.enabled() and mine:  # open windows: Redis counts what the database will
        counters.update({(k.subject, k.metric, k.period, k.start): used
                         for k, used in tally.kept(mine).items()})
    return {
        "counters": [{"metric": metric, "period": period, "used": used,
                      "window_start": start.isoformat()}
                     for (_, metric, period, start), used in sorted(counters.items())],
        "alerts": [{"message": a.message, "created": a.created.isoformat()}
                   for a in Alert.objects.filter(subject__in=mine)],
    }


def erase(pseudonyms: Iterable[str], generation_ids: Iterable[Any]) -> int:
    mine = subjects(pseudonyms)
    deleted = Counter.objects.filter(subject__in=mine).delete()[0]
    if tally.enabled() and mine:  # their counters of open windows, in Redis
        deleted += tally.forget(mine)
    deleted += Alert.objects.filter(subject__in=mine).delete()[0]
    ids = list(generation_ids)
    if ids:
        deleted += Reservation.objects.filter(generation_id__in=ids).delete()[0]
    return deleted


def purge(generations_before: dt.datetime | None, alerts_before: dt.datetime | None,
          now: dt.datetime) -> int:
    """Counters and reservations follow the generations' retention (never inside a window
    that may still be open); alerts follow the audit log's."""
    deleted = 0
    if generations_before is not None:
        cutoff = min(generations_before, now - LONGEST_WINDOW)
        deleted += Counter.objects.filter(window_start__lt=cutoff).delete()[0]
        deleted += Reservation.objects.filter(created__lt=cutoff).delete()[0]
    if alerts_before is not None:
        deleted += Alert.objects.filter(Q(created__lt=alerts_before)).delete()[0]
    return deleted
