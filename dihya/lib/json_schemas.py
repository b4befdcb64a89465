"""JSON Schemas that clients send, held to what one process can afford to validate.

A `response_format.json_schema` (or a tool's `parameters`) is the client's code run on our
CPU: chained `anyOf` + `$ref` cost 2^depth to validate an answer against, a `pattern` with
nested quantifiers backtracks for minutes, a `$ref` cycle that never descends into the value
recurses forever. `check` refuses such a schema before anything is admitted, naming the limit
it passes; `validator` validates with RE2 (linear time, no backreferences or lookaround) for
`pattern` and `patternProperties`, and stops at a deadline, so an answer is judged off the
event loop within a budget (fallbacks.structured).

The limits are generous for real schemas (OpenAI's structured outputs allow 10 levels of
nesting) and small against the blow-up: the cost that matters is the schema with its `$ref`s
inlined (`MAX_EXPANDED`), which a chain of 12 doubled references passes by far.

Django-free; never fetches a remote `$ref` (only "#" and "#/..." pointers are taken).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jsonschema
import re2  # type: ignore[import-untyped]  # google-re2 ships no types

MAX_BYTES = 65_536       # the schema as compact JSON
MAX_DEPTH = 32           # objects and arrays nested in the schema document
MAX_REFS = 128           # `$ref`s in the schema
MAX_REF_DEPTH = 8        # `$ref`s followed one inside another (recursion through a value aside)
MAX_COMBINATORS = 128    # allOf/anyOf/oneOf branches, not and if
MAX_EXPANDED = 4_000     # subschemas with every `$ref` inlined (a recursive one counted once)
MAX_PATTERN = 1_000      # characters in one regular expression

COMBINATORS = ("allOf", "anyOf", "oneOf", "not", "if")
# Keywords whose subschemas apply to a part of the value (recursion through them is bounded
# by the answer's size), and those that apply to the value itself.
INTO_VALUE_ONE = ("additionalProperties", "additionalItems", "contains", "propertyNames",
                  "unevaluatedProperties", "unevaluatedItems")
INTO_VALUE_MAP = ("properties", "patternProperties")
SAME_VALUE_ONE = ("not", "if", "then", "else")
SAME_VALUE_LIST = ("allOf", "anyOf", "oneOf")
DEFINITIONS = ("$defs", "definitions")


class TooCostly(ValueError):
    """The schema passes a limit; the message names it."""


class OutOfTime(Exception):
    """Validation ran past its deadline."""


def check(schema: dict[str, Any]) -> None:
    """Raise TooCostly (a ValueError) if the schema passes a limit, uses a `$ref` we do not
    resolve, a `$ref` cycle that never descends into the value, or a pattern RE2 cannot run."""
    nodes = []
    for node, depth in _nodes(schema):  # depth first: nothing below recurses deeper than this
        if depth > MAX_DEPTH:
            raise TooCostly(f"the schema nests deeper than {MAX_DEPTH} levels")
        nodes.append(node)
    size = len(json.dumps(schema, separators=(",", ":")))
    if size > MAX_BYTES:
        raise TooCostly(f"the schema is {size} bytes; at most {MAX_BYTES}")
    refs = combinators = 0
    for node in nodes:
        if not isinstance(node, dict):
            continue
        if "$dynamicRef" in node or "$recursiveRef" in node:
            raise TooCostly("$dynamicRef and $recursiveRef are not supported; use $ref")
        if "$ref" in node:
            refs += 1
            _target(schema, node["$ref"])
        combinators += sum(len(node[k]) if isinstance(node[k], list) else 1
                           for k in COMBINATORS if k in node)
        patterns = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        if isinstance(node.get("patternProperties"), dict):
            patterns += list(node["patternProperties"])
        for p in patterns:
            _regex(p)
    if refs > MAX_REFS:
        raise TooCostly(f"the schema has {refs} $refs; at most {MAX_REFS}")
    if combinators > MAX_COMBINATORS:
        raise TooCostly(f"the schema has {combinators} allOf/anyOf/oneOf branches and "
                        f"not/if; at most {MAX_COMBINATORS}")
    expanded = _Expansion(schema).cost(schema, 0)
    if expanded > MAX_EXPANDED:
        raise TooCostly(f"with its $refs inlined the schema has more than {MAX_EXPANDED} "
                        "subschemas (anyOf/oneOf over $refs multiply)")


def _nodes(value: Any, depth: int = 0) -> Iterator[tuple[Any, int]]:
    yield value, depth
    if isinstance(value, dict):
        for child in value.values():
            if isinstance(child, dict | list):
                yield from _nodes(child, depth + 1)
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, dict | list):
                yield from _nodes(child, depth + 1)


def _target(root: dict[str, Any], ref: Any) -> Any:
    """The subschema a local `$ref` points at ("#" or a JSON pointer "#/...")."""
    if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
        raise TooCostly(f"$ref {str(ref)[:80]!r} is not supported: only local references "
                        "('#' or '#/$defs/...')")
    node: Any = root
    for raw in ref[2:].split("/") if ref != "#" else ():
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise TooCostly(f"$ref {ref[:80]!r} points at nothing in the schema")
    return node


class _Expansion:
    """The size of the schema with its `$ref`s inlined, as validation walks it."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.total = 0
        self.into_value = 0  # subschemas entered on the way that apply to a part of the value
        self.active: list[tuple[str, int]] = []  # refs being expanded, with `into_value` then

    def cost(self, node: Any, ref_depth: int) -> int:
        if not isinstance(node, dict):
            return 0
        self.total += 1
        if self.total > MAX_EXPANDED:
            return self.total  # enough: the caller refuses
        same = [node.get(key) for key in SAME_VALUE_ONE]
        same += [child for key in SAME_VALUE_LIST for child in node.get(key) or ()]
        if isinstance(node.get("dependentSchemas"), dict):
            same += list(node["dependentSchemas"].values())
        into = [node.get(key) for key in INTO_VALUE_ONE]
        into += [child for key in INTO_VALUE_MAP if isinstance(node.get(key), dict)
                 for child in node[key].values()]
        items = node.get("items")
        into += items if isinstance(items, list) else [items]
        into += list(node.get("prefixItems") or ())
        cost = 1
        if isinstance(ref := node.get("$ref"), str):
            cost += self._ref(ref, ref_depth)
        cost += sum(self.cost(child, ref_depth) for child in same)
        self.into_value += 1
        try:
            cost += sum(self.cost(child, ref_depth) for child in into)
        finally:
            self.into_value -= 1
        return cost

    def _ref(self, ref: str, ref_depth: int) -> int:
        for name, into_value in self.active:
            if name == ref:
                if self.into_value == into_value:
                    raise TooCostly(f"$ref {ref[:80]!r} refers to itself without descending "
                                    "into the value (endless recursion)")
                return 1  # recursion through a part of the value: bounded by the answer
        if ref_depth + 1 > MAX_REF_DEPTH:
            raise TooCostly(f"$refs nest deeper than {MAX_REF_DEPTH} (a $ref inside what a "
                            "$ref points at, and so on)")
        self.active.append((ref, self.into_value))
        try:
            return self.cost(_target(self.root, ref), ref_depth + 1)
        finally:
            self.active.pop()


@lru_cache(maxsize=256)
def _regex(pattern: str) -> Any:
    if len(pattern) > MAX_PATTERN:
        raise TooCostly(f"a pattern has {len(pattern)} characters; at most {MAX_PATTERN}")
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options=options)
    except re2.error:
        raise TooCostly(f"pattern {pattern[:80]!r} is not supported: patterns run on RE2 "
                        "(no backreferences or lookaround)") from None


# --- validation --------------------------------------------------------------------------
_deadline = threading.local()


def _timed(keyword: Any) -> Any:
    def run(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
        if time.monotonic() > _deadline.at:
            raise OutOfTime
        return keyword(validator, value, instance, schema)

    return run


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Any:
    if validator.is_type(instance, "string") and not _regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator: Any, patterns: dict[str, Any], instance: Any,
                        schema: Any) -> Any:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for k, v in instance.items():
            if _regex(pattern).search(k):
                yield from validator.descend(v, subschema, path=k, schema_path=pattern)


@lru_cache(maxsize=8)
def _bounded(base: type) -> type:
    keywords = {**base.VALIDATORS}  # type: ignore[attr-defined]
    if "pattern" in keywords:
        keywords["pattern"] = _pattern
    if "patternProperties" in keywords:
        keywords["patternProperties"] = _pattern_properties
    return jsonschema.validators.extend(
        base, validators={k: _timed(fn) for k, fn in keywords.items()})


def first_error(schema: dict[str, Any], value: Any,
                seconds: float) -> jsonschema.ValidationError | None:
    """The most relevant error of `value` against `schema`, or None; OutOfTime past
    `seconds`. Blocking (pure Python): call it off the event loop."""
    validator = _bounded(jsonschema.validators.validator_for(schema))(schema)
    _deadline.at = time.monotonic() + seconds
    try:
        return jsonschema.exceptions.best_match(validator.iter_errors(value))
    except RecursionError:
        raise OutOfTime from None
