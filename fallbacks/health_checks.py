"""Probe every enabled engine on a schedule, with the cheapest call its provider has.

Results feed the breaker (a dead engine opens it without a client paying for the discovery;
an engine answering again after its cooldown closes it) and the admin's "last seen up".
Runs on a worker; the probes go out concurrently, each bounded by the engine's timeouts.
"""

from __future__ import annotations

import asyncio
import logging

from django.db.models import Q
from django.utils import timezone

from fallbacks import breaker, catalog
from fallbacks.errors import Failure, ProviderError
from fallbacks.models import BreakerState, Engine
from fallbacks.runner import as_provider_error, provider_for
from fallbacks.spec import EngineSpec

log = logging.getLogger(__name__)

async def probe(engine: EngineSpec) -> ProviderError | None:
    try:
        async with asyncio.timeout(engine.connect_timeout + engine.read_timeout):
            await provider_for(engine).probe()
    except (ProviderError, TimeoutError) as exc:
        return as_provider_error(exc)
    return None


async def probe_many(engines: list[EngineSpec]) -> list[ProviderError | None]:
    return list(await asyncio.gather(*(probe(e) for e in engines)))


def check_all() -> dict[str, str]:
    """Probe every enabled engine; returns engine name → "up" or the failure."""
    from dihya.lib import loop

    specs = [catalog.engine_spec(e) for e in Engine.objects.filter(enabled=True)]
    results = loop.run(probe_many(specs), timeout=300)
    board = breaker.health()
    now = timezone.now()
    report = {}
    for engine, error in zip(specs, results, strict=True):
        if error is None:
            Engine.objects.filter(pk=engine.id).update(last_seen_up=now)
            # Up again after its cooldown: close it rather than make a client probe it.
            BreakerState.objects.filter(Q(state=breaker.OPEN) | Q(state=breaker.HALF_OPEN),
                                        engine_id=engine.id, reason=breaker.FAILURES,
                                        until__lte=now).update(
                state=breaker.CLOSED, reason="", failures=0, since=now, until=None,
                probe_until=None)
            report[engine.name] = "up"
        else:
            if error.failure is not Failure.NOT_CONFIGURED:
                board.record(engine, error)
            report[engine.name] = f"{error.failure}: {error.detail}"[:200]
    board.flush()
    log.info("health checks: %s", report)
    return report
