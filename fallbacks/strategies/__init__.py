"""Routing strategies: the order in which one request tries a route's engines.

`plan` is what the runner calls: it applies the route's `context_fit` filter, asks the
route's strategy (`fallbacks.strategies.registry`), and puts a sticky user's engine first.
It never calls an engine, never touches the database and never waits (see `base`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from fallbacks.spec import EngineSpec, Request, RouteSpec
from fallbacks.strategies import fit, registry, sticky
from fallbacks.strategies.base import Ask, Average, Choice, Strategy, always, idle, unmeasured

log = logging.getLogger(__name__)

__all__ = ["Ask", "Choice", "Plan", "Strategy", "plan"]


@dataclass(frozen=True, slots=True)
class Plan:
    """Engines in the order to try; `skipped` says which to record as skipped, and why."""

    engines: tuple[EngineSpec, ...]
    why: str
    strategy: str
    skipped: dict[int, str] = field(default_factory=dict)


def plan(route: RouteSpec, request: Request, *, stream: bool = False, user: str = "",
         available: Callable[[EngineSpec], bool] = always,
         in_flight: Callable[[int], int] = idle,
         latency: Callable[[int, str], Average | None] = unmeasured) -> Plan:
    prompt = fit.prompt_tokens(request)
    ask = Ask(route, request, stream=stream, tokens=prompt + request.max_tokens,
              prompt_tokens=prompt, available=available, in_flight=in_flight, latency=latency)
    engines = route.engines
    skipped: dict[int, str] = {}
    if route.context_fit:
        too_long = tuple(e for e in engines if not fit.fits(e, ask.tokens))
        if too_long:
            skipped = dict.fromkeys((e.id for e in too_long), fit.CONTEXT_TOO_LONG)
            engines = tuple(e for e in engines if e.id not in skipped)
    strategy = strategy_of(route)
    choice = strategy.order(engines, ask) if engines else Choice((), "no engine fits")
    if route.sticky and user:
        choice = sticky.stick(choice, ask, user)
    why = choice.why
    if skipped:
        why += (f"; skipped, ~{ask.tokens} tokens do not fit: "
                + ", ".join(e.name for e in route.engines if e.id in skipped))
    return Plan((*(e for e in route.engines if e.id in skipped), *choice.engines), why,
                strategy.name, skipped)


def strategy_of(route: RouteSpec) -> Strategy:
    try:
        return registry.get(route.strategy)
    except LookupError:  # a plug-in uninstalled under a route that names it
        log.warning("route %r names an unknown strategy %r; using ordered", route.name,
                    route.strategy)
        return registry.get("ordered")
