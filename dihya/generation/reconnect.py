"""A worker's way through a lost database connection: close it, and try again on a new one.

A worker keeps its connection across jobs (CONN_MAX_AGE) and across the minutes an engine may
think; a database restart, a failover or an operator's `pg_terminate_backend` kills it under a
running job, and the job's next statement raises OperationalError. Left at that, the task
failed with the row still `running`, and the job waited for the reaper (DIHYA_JOB_DEADLINE +
DIHYA_REAP_GRACE, and up to a minute more: minutes). `retrying(fn)` closes the broken
connection and runs `fn` again on a new one, for up to DIHYA_DB_RETRY seconds, so the job's
end is written as soon as the database answers again; past that, the reaper is the backstop.

Only for units of work that are safe to run again: one statement in autocommit, or a whole
`transaction.atomic()` block (rolled back with the connection). Inside a caller's transaction
it retries nothing — the caller's work was lost with the connection — and the error goes up
unchanged. Exactly once is each unit's own fence: a fenced UPDATE whose commit was lost with
its acknowledgement finds, when run again, that its row has moved on (`jobs.claim` recognises
its own claim by its `started` stamp). What is not in the database is not rolled back: should
the connection die at the very commit of a job's end, its metrics may count it twice, and a
callback may be queued twice (receivers already get a delivery at least once).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.db.models import F, QuerySet
from django.utils import timezone

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

PAUSES = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)  # then every 2 s, until DIHYA_DB_RETRY runs out


def retrying(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)`, run again on a new connection while the database fails it."""
    deadline = time.monotonic() + settings.DIHYA_DB_RETRY
    tries = 0
    while True:
        try:
            return fn(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            left = deadline - time.monotonic()
            if connection.in_atomic_block or left <= 0:
                raise
            pause = min(PAUSES[min(tries, len(PAUSES) - 1)], left)
            tries += 1
            log.warning("%s: the database failed (%s); trying again on a new connection "
                        "in %.2f s (try %d)", getattr(fn, "__qualname__", fn), exc, pause,
                        tries + 1)
            with contextlib.suppress(DatabaseError):
                connection.close()
            time.sleep(pause)


def claimed(rows: QuerySet[Any], queued: str, running: str) -> bool:
    """Move `rows` (one row: a job or a batch line) from `queued` to `running`, counting a
    delivery; whether this worker has it. Through a lost connection too: a claim whose commit
    was acknowledged to nobody is known again, on the new connection, by the `started` stamp
    it wrote."""
    at = timezone.now()

    def take() -> bool:
        return bool(rows.filter(status=queued).update(
            status=running, started=at, deliveries=F("deliveries") + 1)
        ) or rows.filter(status=running, started=at).exists()

    return retrying(take)
