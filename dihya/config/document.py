"""Validate, apply and export a whole configuration document.

Validation happens entirely before the transaction opens, and the transaction covers every
write, so a rejected or failing file leaves the database as it was.
"""

from __future__ import annotations

from typing import Any

import yaml
from django.db import transaction
from pydantic import ValidationError

from dihya.config import recorder as config_audit
from dihya.config.base import Change, ConfigError, Plan, duplicate_lines, error_lines
from dihya.config.registry import sections

HEADER = "# Dihya configuration (python manage.py config export). It holds no secrets.\n"


def load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Only the problem and its position: the context snippet could show a secret.
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ConfigError([f"not valid YAML: {problem}{where}"]) from None


def validate(data: Any, *, prune: bool = False) -> Plan:
    """Parse and check the whole document; raise ConfigError listing every problem found."""
    if data is None:
        data = {}
    known = [section.key for section in sections()]
    if not isinstance(data, dict):
        raise ConfigError([f"the file must be a mapping with the keys {', '.join(known)}"])
    problems = [f"{key}: unknown section (known: {', '.join(known)})"
                for key in data if key not in known]
    items: dict[str, list[Any] | None] = {}
    for section in sections():
        if section.key not in data:
            items[section.key] = None
            continue
        raw = data[section.key] if data[section.key] is not None else []
        if not isinstance(raw, list):
            problems.append(f"{section.key}: must be a list of {section.kind}s")
            items[section.key] = []
            continue
        parsed = []
        for index, entry in enumerate(raw):
            try:
                parsed.append(section.item.model_validate(entry))
            except ValidationError as exc:
                problems.extend(error_lines(exc, f"{section.key}[{index}]"))
        names = [entry.get("name") if isinstance(entry, dict) else None for entry in raw]
        problems.extend(duplicate_lines(names, section.key + "[{}].name"))
        items[section.key] = parsed
    if problems:
        # References are only checked on a file whose items all parsed: an engine with a
        # typo would otherwise also show up as "unknown engine" in every route naming it.
        raise ConfigError(problems)
    plan = Plan(items=items, prune=prune,
                existing={section.key: section.existing_names() for section in sections()})
    for section in sections():
        problems.extend(section.check(plan))
    if problems:
        raise ConfigError(problems)
    return plan


def apply(data: Any, *, prune: bool = False, missing_only: bool = False) -> list[Change]:
    """Make the database match `data` (a parsed document); return what changed.

    `missing_only` creates the items the database lacks and leaves every existing one exactly
    as it is, however it differs from the file (the demo seed: a restart must keep what an
    admin changed). It cannot be combined with `prune`.

    Each change is one `config_change` audit event, written in the same transaction; the
    row-level recorder is silenced meanwhile so that nothing is recorded twice.
    """
    if prune and missing_only:
        raise ValueError("missing_only never deletes: it cannot prune")
    with transaction.atomic(), config_audit.quiet():
        plan = validate(data, prune=prune)
        before = {section.key: section.snapshot() for section in sections()}
        for section in sections():
            current = before[section.key]
            for item in plan.items[section.key] or []:
                if item.name in current and (missing_only
                                             or section.same(item, current[item.name])):
                    continue
                section.write(item)
        for section in reversed(sections()):
            if gone := plan.pruned_names(section.key):
                section.delete(gone)
        changes = []
        for section in sections():
            after = section.snapshot()
            old = before[section.key]
            for name in sorted(set(old) | set(after)):
                was = old[name].exported() if name in old else None
                now = after[name].exported() if name in after else None
                if was != now:
                    changes.append(Change(section.kind, name, was, now))
        for change in changes:
            config_audit.record(change.kind, change.name, change.before, change.after,
                                via="config apply")
    return changes


def validate_yaml(text: str, *, prune: bool = False) -> Plan:
    return validate(load_yaml(text), prune=prune)


def apply_yaml(text: str, *, prune: bool = False) -> list[Change]:
    return apply(load_yaml(text), prune=prune)


def export() -> dict[str, list[dict[str, Any]]]:
    return {section.key: [item.exported() for _, item in sorted(section.snapshot().items())]
            for section in sections()}


def export_yaml() -> str:
    return HEADER + yaml.safe_dump(export(), sort_keys=False, allow_unicode=True,
                                   default_flow_style=False)
