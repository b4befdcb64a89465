"""Reading and overriding the circuit breakers: for the admin and `GET /api/v1/engines`.

`snapshot()` is one query for every engine. `force()` is an admin's decision and wins over
what the breaker learnt: a forced-open engine is never probed and stays open until forced
closed; forcing closed forgets its failures.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from fallbacks import breaker, signals
from fallbacks.models import BreakerState, Engine

log = logging.getLogger(__name__)


def snapshot(routes: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """State of every engine's breaker: state, since, last error, next probe, last seen up.

    With `routes` (route ids), only the engines of those routes.
    """
    out = []
    engines = Engine.objects.select_related("breaker").order_by("name")
    if routes is not None:
        engines = engines.filter(steps__route_id__in=list(routes)).distinct()
    for engine in engines:
        b: BreakerState | None = getattr(engine, "breaker", None)
        state = b.state if b else breaker.CLOSED
        out.append({
            "engine": engine.name,
            "engine_id": engine.pk,
            "enabled": engine.enabled,
            "state": state,
            "reason": b.reason if b else "",
            "forced": bool(b and b.reason == breaker.FORCED),
            "failures": b.failures if b else 0,
            "since": iso(b.since if b else None),
            "next_probe": iso(b.until if b and state == breaker.OPEN
                              and b.reason != breaker.FORCED else None),
            "last_error": b.last_error if b else "",
            "last_failure": iso(b.last_failure if b else None),
            "last_seen_up": iso(engine.last_seen_up),
            "max_concurrency": engine.max_concurrency,
            # Where it processes data (lawful egress): what the dashboard shows beside it.
            "region": engine.region,
            "processor": engine.processor,
            "mask": engine.masks,
        })
    return out


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def force(engine: Engine | int | str, state: str, actor: str, reason: str = "") -> None:
    """Force a breaker open or closed. `actor` is who did it, `reason` why (both audited)."""
    if state not in (breaker.OPEN, breaker.CLOSED):
        raise ValueError(f"a breaker can be forced open or closed, not {state!r}")
    if not isinstance(engine, Engine):
        lookup: dict[str, object] = {"pk": engine} if isinstance(engine, int) else {"name": engine}
        engine = Engine.objects.get(**lookup)
    now = timezone.now()
    fields: dict[str, Any] = {"state": state, "since": now, "until": None, "probe_until": None,
                              "changed_by": actor[:150], "failures": 0}
    if state == breaker.OPEN:
        fields.update(reason=breaker.FORCED, last_error=f"forced open by {actor}: {reason}"[:500])
    else:
        fields.update(reason="")
    with transaction.atomic():
        BreakerState.objects.update_or_create(engine=engine, defaults=fields)
        transaction.on_commit(lambda: announce_forced(engine, state, actor, reason))
    breaker.health().forget()  # this process knows at once; others within the refresh
    log.info("breaker of %s forced %s by %s: %s", engine.name, state, actor, reason)


def announce_forced(engine: Engine, state: str, actor: str, reason: str) -> None:
    """Tell the wiring (the audit log records who forced which breaker, and why)."""
    signals.breaker_forced.send(sender=Engine, engine_name=engine.name, state=state,
                                actor=actor, reason=reason)
