"""Which strategy class answers to which name.

Built-in strategies register themselves on import (`@register`); third-party packages add
theirs through the `dihya.strategies` entry point group, e.g. in their pyproject.toml:

    [project.entry-points."dihya.strategies"]
    canary = "acme_dihya.canary:Canary"

An entry point may name the class or a module whose import registers it. A broken plugin is
logged and skipped: it must never take the built-in strategies down with it, and it cannot
replace a built-in name. `Route.strategy` takes its choices from here.
"""

from __future__ import annotations

import logging
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fallbacks.strategies.base import Strategy

logger = logging.getLogger(__name__)

BUILTIN = (
    "fallbacks.strategies.ordered",
    "fallbacks.strategies.weighted",
    "fallbacks.strategies.least_busy",
    "fallbacks.strategies.lowest_latency",
    "fallbacks.strategies.cheapest",
)
GROUP = "dihya.strategies"

_strategies: dict[str, Strategy] = {}
_loaded = False


def register(cls: type[Strategy]) -> type[Strategy]:
    _strategies[cls.name] = cls()
    return cls


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for module in BUILTIN:
        import_module(module)
    builtin = set(_strategies)
    _loaded = True
    for ep in entry_points(group=GROUP):
        before = dict(_strategies)
        try:
            loaded = ep.load()
            if isinstance(loaded, type):
                name = getattr(loaded, "name", None)
                if name in builtin:
                    logger.error("strategy plugin %r may not replace built-in %r; skipped",
                                 ep.name, name)
                    continue
                register(loaded)
        except Exception:
            logger.exception("strategy plugin %r (%s) failed to load; skipped", ep.name, ep.value)
            _strategies.clear()
            _strategies.update(before)
            continue
        for name in builtin:  # a module that registered over a built-in is undone
            if _strategies[name] is not before[name]:
                logger.error("strategy plugin %r may not replace built-in %r; undone",
                             ep.name, name)
                _strategies[name] = before[name]


def get(name: str) -> Strategy:
    _load()
    try:
        return _strategies[name]
    except KeyError:
        known = ", ".join(sorted(_strategies))
        raise LookupError(f"unknown strategy {name!r}; known: {known}") from None


def names() -> list[str]:
    _load()
    return sorted(_strategies)


def choices() -> list[tuple[str, str]]:
    _load()
    return [(name, _strategies[name].label) for name in sorted(_strategies)]
