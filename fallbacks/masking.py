"""Personal data masked before a request leaves for an engine, restored in its answer.

An engine with `mask` on never sees the values a detector finds: every text that reaches it
(message text, tool-call arguments and results, tool and schema descriptions, embedding
inputs) has them replaced by placeholders consistent for the request (`<PERSON_1>` is the
same person in every message), and its answer — text, reasoning, tool-call arguments,
structured output, streamed deltas split anywhere — is restored before anyone reads it.

The mapping (`Vault`) lives in memory for one request and is never stored or logged: only
how many entities of each type were masked leaves it. The detector is injected by `dihya`
(this app must not know Presidio); it is synchronous and slow, so it runs in a thread under a
timeout, and any failure of it fails closed (`MaskingFailed`: that engine is not called).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from fallbacks.spec import (
    ChatRequest,
    Completion,
    Delta,
    EmbeddingRequest,
    Request,
    ToolCall,
    ToolCallDelta,
)

MASKING_FAILED = "masking_failed"

#: Texts in, for each text its findings (start, end, entity type) out.
Detect = Callable[[list[str]], list[list[tuple[int, int, str]]]]

PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]*?)_(\d+)>")
# What a chunk may end with that could grow into a placeholder: held back until it can't.
PARTIAL = re.compile(r"<[A-Z_0-9]{0,40}\Z")


class MaskingFailed(Exception):
    """Detection failed or took too long: the engine must not be called."""


@dataclass(frozen=True, slots=True)
class Masking:
    """How the runner masks: the detector and how long it may take per request."""

    detect: Detect
    timeout: float = 5.0


@dataclass(slots=True)
class Vault:
    """One request's placeholders and the values they stand for. Memory only."""

    values: dict[str, str] = field(default_factory=dict)
    _placeholders: dict[tuple[str, str], str] = field(default_factory=dict)
    _per_type: Counter[str] = field(default_factory=Counter)

    def placeholder(self, entity: str, value: str) -> str:
        key = (entity, value)
        if key not in self._placeholders:
            self._per_type[entity] += 1
            name = f"<{entity}_{self._per_type[entity]}>"
            self._placeholders[key] = name
            self.values[name] = value
        return self._placeholders[key]

    @property
    def counts(self) -> dict[str, int]:
        """How many distinct entities of each type were masked (what may be recorded)."""
        return dict(sorted(self._per_type.items()))

    def mask(self, text: str, findings: list[tuple[int, int, str]]) -> str:
        out, at = [], 0
        for start, end, entity in sorted(findings, key=lambda f: (f[0], -f[1])):
            if start < at or end <= start:  # overlaps the one kept before it
                continue
            out += [text[at:start], self.placeholder(entity.upper(), text[start:end])]
            at = end
        return "".join(out) + text[at:]

    def restore(self, text: str, *, in_json: bool = False) -> str:
        """`text` with the placeholders put back; `in_json`: escaped for a JSON string."""
        if "<" not in text or not self.values:
            return text

        def back(match: re.Match[str]) -> str:
            value = self.values.get(match.group(0))
            if value is None:
                return match.group(0)
            return json.dumps(value, ensure_ascii=False)[1:-1] if in_json else value

        return PLACEHOLDER.sub(back, text)


# --- what reaches an engine ------------------------------------------------------------------
def _texts(request: Request, change: Callable[[str], str]) -> Request:
    """`request` with `change` applied to every text that reaches an engine."""
    if isinstance(request, EmbeddingRequest):
        return replace(request, inputs=tuple(change(i) if isinstance(i, str) else i
                                             for i in request.inputs))
    messages = tuple(replace(
        m, content=change(m.content),
        tool_calls=tuple(replace(c, arguments=change(c.arguments)) for c in m.tool_calls))
        for m in request.messages)
    tools = tuple(replace(t, description=change(t.description) if t.description else
                          t.description, parameters=_descriptions(t.parameters, change))
                  for t in request.tools)
    response_format = request.response_format
    if response_format is not None and response_format.schema:
        response_format = replace(response_format,
                                  schema=_descriptions(response_format.schema, change))
    return replace(request, messages=messages, tools=tools, response_format=response_format)


def _descriptions(schema: Any, change: Callable[[str], str]) -> Any:
    """A JSON schema with its descriptions (and titles, examples) changed, keys kept."""
    if isinstance(schema, dict):
        return {k: change(v) if k in ("description", "title") and isinstance(v, str)
                else _descriptions(v, change) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_descriptions(v, change) for v in schema]
    return schema


async def mask(request: Request, masking: Masking, vault: Vault) -> Request:
    """`request` as a masking engine may see it. Raises MaskingFailed (fail closed)."""
    seen: list[str] = []

    def note(text: str) -> str:
        seen.append(text)
        return text

    _texts(request, note)
    unique = list(dict.fromkeys(t for t in seen if t.strip()))
    if not unique:
        return request
    try:
        async with asyncio.timeout(masking.timeout):
            findings = await asyncio.to_thread(masking.detect, unique)
        if len(findings) != len(unique):
            raise ValueError(f"{len(findings)} answers for {len(unique)} texts")
        masked = {t: vault.mask(t, f) for t, f in zip(unique, findings, strict=True)}
    except TimeoutError:
        raise MaskingFailed(f"detection took more than {masking.timeout:g} s") from None
    except Exception as exc:  # any failure of the detector fails closed
        raise MaskingFailed(f"detection failed: {type(exc).__name__}") from None
    return _texts(request, lambda t: masked.get(t, t))


# --- what comes back -------------------------------------------------------------------------
def restore(completion: Completion, vault: Vault, request: ChatRequest) -> Completion:
    if not vault.values:
        return completion
    structured = request.response_format is not None and request.response_format.type != "text"
    return replace(
        completion, text=vault.restore(completion.text, in_json=structured),
        reasoning=vault.restore(completion.reasoning),
        refusal=vault.restore(completion.refusal) if completion.refusal else completion.refusal,
        tool_calls=tuple(ToolCall(c.id, c.name, vault.restore(c.arguments, in_json=True))
                         for c in completion.tool_calls))


class DeltaRestorer:
    """Restores a stream delta by delta, holding back a chunk's tail that may be the start of
    a placeholder (`<PER`) until the next chunk says whether it is one."""

    def __init__(self, vault: Vault, request: ChatRequest) -> None:
        self.vault = vault
        self.structured = (request.response_format is not None
                           and request.response_format.type != "text")
        self.held: dict[str | int, str] = {}

    def _piece(self, key: str | int, piece: str, in_json: bool) -> str:
        text = self.held.pop(key, "") + piece
        cut = text.rfind("<")
        if cut != -1 and PARTIAL.match(text, cut):
            self.held[key] = text[cut:]
            text = text[:cut]
        return self.vault.restore(text, in_json=in_json)

    def delta(self, delta: Delta) -> Delta:
        calls = tuple(replace(c, arguments=self._piece(c.index, c.arguments, True))
                      for c in delta.tool_calls)
        restored = replace(delta, text=self._piece("text", delta.text, self.structured),
                           reasoning=self._piece("reasoning", delta.reasoning, False),
                           tool_calls=calls)
        if delta.finish_reason is not None or delta.usage is not None:
            restored = self._flushed(restored)
        return restored

    def _flushed(self, delta: Delta) -> Delta:
        """`delta` with whatever is held appended: the stream ends, nothing more will come."""
        held, self.held = self.held, {}
        calls = list(delta.tool_calls)
        for key, rest in held.items():
            if isinstance(key, int):
                calls.append(ToolCallDelta(index=key,
                                           arguments=self.vault.restore(rest, in_json=True)))
        return replace(delta, text=delta.text + self.vault.restore(
            held.get("text", ""), in_json=self.structured),
            reasoning=delta.reasoning + self.vault.restore(held.get("reasoning", "")),
            tool_calls=tuple(calls))

    def tail(self) -> Delta | None:
        """What is still held when the stream ends without a final delta."""
        return self._flushed(Delta()) if self.held else None


async def restoring(stream: AsyncIterator[Delta], vault: Vault,
                    request: ChatRequest) -> AsyncIterator[Delta]:
    """`stream` restored. A delta emptied by holding back is not passed on."""
    restorer = DeltaRestorer(vault, request)
    try:
        async for delta in stream:
            out = restorer.delta(delta)
            if out.output or not delta.output or out.finish_reason or out.usage:
                yield out
        if (tail := restorer.tail()) is not None:
            yield tail
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):  # a dying stream may fail to close
                await aclose()
