"""What the quota tables hold about a person, for `dihya.privacy.erasure` (export, erase, retention).

Counters, alerts and reservations name people only by `user:<pseudonym>`, yet a pseudonym is
still personal data to the one who holds the key: erasure deletes them, export shows them.
Retention never drops a counter whose window may still be open (a month is at most 31 days),
or the quota of a live window would silently reset.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from quotas.models import Alert, Counter, Reservation

if TYPE_CHECKING:
    from dihya.privacy.erasure import Person, Retention

LONGEST_WINDOW = dt.timedelta(days=32)


def subjects(p: Person) -> list[str]:
    return [f"user:{s}" for s in p.pseudonyms]


def collect(p: Person) -> dict[str, Any]:
    mine = subjects(p)
    return {
        "counters": [{"metric": c.metric, "period": c.period, "used": c.used,
                      "window_start": c.window_start.isoformat()}
                     for c in Counter.objects.filter(subject__in=mine)],
        "alerts": [{"message": a.message, "created": a.created.isoformat()}
                   for a in Alert.objects.filter(subject__in=mine)],
    }


def erase(p: Person) -> int:
    mine = subjects(p)
    deleted = Counter.objects.filter(subject__in=mine).delete()[0]
    deleted += Alert.objects.filter(subject__in=mine).delete()[0]
    if p.generation_ids:
        deleted += Reservation.objects.filter(generation_id__in=p.generation_ids).delete()[0]
    return deleted


def purge(r: Retention) -> int:
    cutoff = r.cutoff("generation")
    if cutoff is None:
        return 0
    cutoff = min(cutoff, r.now - LONGEST_WINDOW)
    deleted = Counter.objects.filter(window_start__lt=cutoff).delete()[0]
    deleted += Reservation.objects.filter(created__lt=cutoff).delete()[0]
    if (audit := r.cutoff("audit")) is not None:
        deleted += Alert.objects.filter(Q(created__lt=audit)).delete()[0]
    return deleted


def register() -> None:
    from dihya.privacy import erasure

    erasure.register("quotas", collect=collect, erase=erase, purge=purge)
