"""Which strategy answers to which name.

Built-in strategies register themselves on import (`@register`); third-party packages add
theirs through the `dihya.strategies` entry point group, e.g. in their pyproject.toml:

    [project.entry-points."dihya.strategies"]
    canary = "acme_dihya.canary:Canary"

A strategy is stateless, so the registry serves one instance per class. The rules (a plug-in
cannot replace a built-in by any route; a broken one is logged and skipped and leaves nothing
registered) live in `dihya.lib.plugins`, shared with providers. `Route.strategy` takes its
choices from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dihya.lib.plugins import Registry

if TYPE_CHECKING:
    from fallbacks.strategies.base import Strategy

BUILTIN = (
    "fallbacks.strategies.ordered",
    "fallbacks.strategies.weighted",
    "fallbacks.strategies.least_busy",
    "fallbacks.strategies.lowest_latency",
    "fallbacks.strategies.cheapest",
)
GROUP = "dihya.strategies"


def _instance(cls: type) -> Strategy:
    return cls()


plugins: Registry[Strategy] = Registry("strategy", GROUP, BUILTIN, _instance)


def register(cls: type[Strategy]) -> type[Strategy]:
    plugins.register(cls)
    return cls


def get(name: str) -> Strategy:
    return plugins.get(name)


def names() -> list[str]:
    return plugins.names()


def choices() -> list[tuple[str, str]]:
    return plugins.choices()
