"""Every periodic task of Dihya, as django-q2 schedules, created idempotently after migrate.

One place, so that "where is the reaper scheduled" has one answer. The functions named are
the entry points in `dihya.tasks`. `update_or_create` by name: a second `schedule(name=…)`
would raise IntegrityError, and an edited interval here applies on the next migrate.
"""

from __future__ import annotations

from typing import Any

SCHEDULES: dict[str, dict[str, Any]] = {
    # name: what runs and how often
    "dihya engine health checks": {"func": "dihya.tasks.check_engines",
                                   "schedule_type": "I", "minutes": 1},
    "dihya reaper": {"func": "dihya.tasks.reap", "schedule_type": "I", "minutes": 1},
    "dihya batch sweep": {"func": "dihya.tasks.sweep_batches", "schedule_type": "I",
                          "minutes": 1},
    "dihya retention purge": {"func": "dihya.tasks.purge_expired", "schedule_type": "D"},
}


def create(using: str | None = None, **kwargs: Any) -> None:
    """post_migrate receiver (after django_q's own migrations)."""
    from django_q.models import Schedule

    for name, fields in SCHEDULES.items():
        Schedule.objects.using(using or "default").update_or_create(
            name=name, defaults={**fields, "repeats": -1})
