"""Other names a route answers to: what coding agents send as `model` by default.

Claude Code asks for `claude-sonnet-4-5-20250929`, Codex for `gpt-5-codex`: names no admin
wants to create routes for one by one, and that change with each release of the client. A
route lists aliases — exact names, or patterns where `*` stands for any characters (nothing
else is special: no `?`, no `[...]`) — and a name that is no route's resolves to one:

1. a route of that exact name;
2. else the route listing that exact alias (at most one may: `problems` refuses the rest);
3. else the route whose matching pattern is the most specific: the most literal characters,
   then the longest pattern, then the pattern and the route name in alphabetical order, so the
   same name always reaches the same route whatever the database returns first.

Matching is case-sensitive, as route names are. Pure functions: the catalog reads the table
and remembers what each name resolved to; the model and the config file check with `problems`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase

#: Letters, digits and what model names carry (`.`, `_`, `:`, `-`, `/`, `@`), and `*`.
ALIAS = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9._:/@*-]{0,63}$")
ALIAS_RULE = ("an alias is a model name of at most 64 letters, digits, '.', '_', ':', '-', '/', "
              "'@' and '*' (any characters)")
MAX_ALIASES = 64


def is_pattern(alias: str) -> bool:
    return "*" in alias


def specificity(pattern: str) -> tuple[int, int]:
    return len(pattern.replace("*", "")), len(pattern)


def resolve(name: str, table: Iterable[tuple[str, Sequence[str]]]) -> str | None:
    """The route `name` is an alias of, from (route name, aliases) pairs; None if none.
    A route of that very name is the catalog's first look, not this function's."""
    matches: list[tuple[int, int, str, str]] = []
    for route, aliases in sorted(table):
        for alias in aliases:
            if alias == name:
                return route
            if is_pattern(alias) and fnmatchcase(name, alias):
                literal, length = specificity(alias)
                matches.append((-literal, -length, alias, route))
    return min(matches)[3] if matches else None


def problems(name: str, aliases: object,
             others: Mapping[str, Sequence[str]]) -> list[tuple[int | str | None, str]]:
    """What is wrong with route `name` declaring `aliases`, given every other route's
    (name → aliases): each as (where, message), where is the alias's index in the list,
    None for the list itself, or "name" for the route's own name."""
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        return [(None, "aliases are a list of names, e.g. [\"claude-*\", \"gpt-5\"]")]
    if len(aliases) > MAX_ALIASES:
        return [(None, f"at most {MAX_ALIASES} aliases")]
    found: list[tuple[int | str | None, str]] = []
    seen: set[str] = set()
    taken = {alias: route for route, listed in others.items() for alias in listed}
    for i, alias in enumerate(aliases):
        if not ALIAS.match(alias):
            found.append((i, f"{alias!r}: {ALIAS_RULE}"))
        elif alias in seen:
            found.append((i, f"{alias!r} is listed twice"))
        elif alias == name or alias in others:
            found.append((i, f"{alias!r} is the name of a route"))
        elif alias in taken:
            found.append((i, f"{alias!r} is already an alias of route {taken[alias]!r}"))
        seen.add(alias)
    if name in taken:
        found.append(("name", f"the route's name {name!r} is an alias of route {taken[name]!r}"))
    return found
