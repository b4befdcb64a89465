"""Which provider class speaks which protocol.

Built-in providers register themselves on import (`@register`); third-party packages add
theirs through the `dihya.providers` entry point group, e.g. in their pyproject.toml:

    [project.entry-points."dihya.providers"]
    acme = "acme_dihya.provider:AcmeProvider"

The rules (a plug-in cannot replace a built-in by any route; a broken one is logged and
skipped and leaves nothing registered) live in `dihya.lib.plugins`, shared with strategies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dihya.lib.plugins import Registry

if TYPE_CHECKING:
    from fallbacks.providers.base import Provider

BUILTIN = (
    "fallbacks.providers.openai_compat",
    "fallbacks.providers.ollama",
    "fallbacks.providers.mistral",
)
GROUP = "dihya.providers"


def _as_class(cls: type) -> type[Provider]:
    return cls


plugins: Registry[type[Provider]] = Registry("provider", GROUP, BUILTIN, _as_class)


def register(cls: type[Provider]) -> type[Provider]:
    plugins.register(cls)
    return cls


def get(name: str) -> type[Provider]:
    return plugins.get(name)


def names() -> list[str]:
    return plugins.names()


def choices() -> list[tuple[str, str]]:
    return plugins.choices()
