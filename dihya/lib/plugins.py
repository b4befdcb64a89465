"""One plug-in registry, shared by engine providers and routing strategies.

Built-ins register themselves on import (`@register` in their module); third-party packages
add theirs through an entry-point group, e.g. in their pyproject.toml:

    [project.entry-points."dihya.providers"]
    acme = "acme_dihya.provider:AcmeProvider"

An entry point may name the class, or a module whose import registers it. Two promises, which
the registry keeps by itself rather than trusting each plug-in:

- **A plug-in cannot replace a built-in, by any route.** Not by naming a class called
  `openai`, not by a module that calls `register` on such a class at import, not by being
  imported before the built-ins are. Only a class defined in one of the built-in modules may
  hold a built-in's name.
- **A plug-in that fails leaves nothing behind.** Whatever a plug-in registers while its entry
  point loads is staged and only kept once the load succeeded and every name it claims is
  free; an import error, an exception, or a name already taken (a built-in, another plug-in)
  drops the whole plug-in, with one log line. The built-ins never go down with it.

Must never import Django or anything of the apps: `fallbacks` uses it, and so may anyone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Refused(ValueError):
    """A registration that would replace a built-in or take a name already held."""


def _discover(group: str) -> Iterable[EntryPoint]:
    """The entry points of `group` (a seam: tests advertise fake ones here)."""
    return entry_points(group=group)


class Registry(Generic[T]):
    """Names to plug-ins of one kind; `make` turns a registered class into what `get` serves."""

    def __init__(self, kind: str, group: str, builtin: tuple[str, ...],
                 make: Callable[[type], T]) -> None:
        self.kind = kind
        self.group = group
        self.builtin = builtin
        self._make = make
        self._entries: dict[str, T] = {}
        self._classes: dict[str, type] = {}
        self._staged: dict[str, type] | None = None
        self._builtins_loaded = False
        self._plugins_loaded = False
        self._lock = threading.RLock()

    def register(self, cls: type) -> type:
        """Class decorator: serve `cls` under `cls.name`; refuses to replace a built-in."""
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise Refused(f"{self.kind} {cls!r} has no name")
        with self._lock:
            if cls.__module__ in self.builtin:
                self._keep(name, cls)
                return cls
            self._load_builtins()
            self._check_free(name, cls, self._classes)
            if self._staged is not None:  # an entry point is loading: kept only if it succeeds
                self._check_free(name, cls, self._staged)
                self._staged[name] = cls
            else:
                self._keep(name, cls)
        return cls

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(sorted(self._entries))
            raise LookupError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def choices(self) -> list[tuple[str, str]]:
        self._load()
        return [(name, str(getattr(self._entries[name], "label", name)))
                for name in sorted(self._entries)]

    def fresh(self) -> Registry[T]:
        """A copy holding only the built-ins, that will scan entry points again (for tests)."""
        self._load_builtins()
        copy: Registry[T] = Registry(self.kind, self.group, self.builtin, self._make)
        with self._lock:
            for name, cls in self._classes.items():
                if cls.__module__ in self.builtin:
                    copy._classes[name] = cls
                    copy._entries[name] = self._entries[name]
        copy._builtins_loaded = True
        return copy

    def _keep(self, name: str, cls: type) -> None:
        if self._classes.get(name) is cls:
            return
        self._entries[name] = self._make(cls)
        self._classes[name] = cls

    def _check_free(self, name: str, cls: type, held: dict[str, type]) -> None:
        holder = held.get(name)
        if holder is None or holder is cls:
            return
        if holder.__module__ in self.builtin:
            raise Refused(f"{self.kind} {cls.__qualname__!r} may not replace built-in {name!r}")
        raise Refused(f"{self.kind} name {name!r} is already taken by "
                      f"{holder.__module__}.{holder.__qualname__}")

    def _load_builtins(self) -> None:
        with self._lock:
            if self._builtins_loaded:
                return
            self._builtins_loaded = True
            for module in self.builtin:
                import_module(module)

    def _load(self) -> None:
        if self._plugins_loaded:
            return
        with self._lock:
            if self._plugins_loaded:
                return
            self._load_builtins()
            self._plugins_loaded = True
            for point in _discover(self.group):
                self._load_plugin(point)

    def _load_plugin(self, point: EntryPoint) -> None:
        self._staged = {}
        try:
            loaded: Any = point.load()
            if isinstance(loaded, type):
                self.register(loaded)
            staged = self._staged
            made = {name: self._make(cls) for name, cls in staged.items()}
        except Exception as error:
            logger.error("%s plug-in %r (%s) skipped: %s: %s", self.kind, point.name,
                         point.value, type(error).__name__, error,
                         exc_info=not isinstance(error, Refused))
            return
        finally:
            self._staged = None
        for name, cls in staged.items():
            self._classes[name] = cls
            self._entries[name] = made[name]
