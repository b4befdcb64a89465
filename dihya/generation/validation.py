"""Checks on what clients send, shared by every entry point through `dihya.generation.requests`.

The schema (pydantic) calls these while it validates a body, so a refusal becomes a 400
`invalid_request` naming the offending field, before anything is admitted or stored. Limits are
read from settings at each call: they follow the environment and `override_settings`.

Never echo the refused text or the deny pattern it matched in a message: the error goes back
to the client and into logs, and the pattern list is the operator's, not the client's.
"""

from __future__ import annotations

import re
from functools import lru_cache

from django.conf import settings

# C0 controls but tab, newline and carriage return; DEL and C1 controls; lone surrogates (JSON
# can spell "\ud800", which no UTF-8 encoder will write to the database later).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(value: str) -> str:
    found = _CONTROL.search(value)
    if found is None:
        return value
    if "\ud800" <= found.group() <= "\udfff":
        raise ValueError("invalid Unicode: a lone surrogate is not text")
    raise ValueError(f"control character U+{ord(found.group()):04X} at position {found.start()} "
                     "(only tab, newline and carriage return are allowed)")


@lru_cache(maxsize=8)
def _deny(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def deny_pattern() -> re.Pattern[str] | None:
    """All of DIHYA_DENY_PATTERNS as one expression (compiled once per list)."""
    return _deny(tuple(settings.DIHYA_DENY_PATTERNS))


def check_message(text: str) -> None:
    limit = settings.DIHYA_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise ValueError(f"at most {limit} characters per message")
    deny = deny_pattern()
    if deny is not None and deny.search(text):
        raise ValueError("the message contains text this gateway refuses")


def screen(text: str) -> str:
    """Refuse text the deny patterns match, wherever the model reads it besides a message's
    content: tool-call arguments, a refusal handed back, tool and schema descriptions, stop
    sequences. Returns the text (a pydantic AfterValidator)."""
    deny = deny_pattern()
    if deny is not None and deny.search(text):
        raise ValueError("the field contains text this gateway refuses")
    return text


def screen_schema(value: object) -> None:
    """`screen` every string of a JSON Schema (descriptions, titles, enum values, names): the
    model reads the schema whole."""
    if isinstance(value, str):
        screen(value)
    elif isinstance(value, dict):
        for key, child in value.items():
            screen(str(key))
            screen_schema(child)
    elif isinstance(value, list):
        for child in value:
            screen_schema(child)


def check_conversation(texts: list[str]) -> None:
    if len(texts) > settings.DIHYA_MAX_MESSAGES:
        raise ValueError(f"at most {settings.DIHYA_MAX_MESSAGES} messages")
    total = sum(len(text) for text in texts)
    if total > settings.DIHYA_MAX_TOTAL_CHARS:
        raise ValueError(f"at most {settings.DIHYA_MAX_TOTAL_CHARS} characters in all messages")


def check_embedding_inputs(inputs: tuple[str | tuple[int, ...], ...]) -> None:
    """What may be embedded in one call: at least one input, none empty, each within the
    message limit and the deny patterns, all within the total (a token weighs four
    characters, the quota estimate's ratio)."""
    if not inputs:
        raise ValueError("at least one input to embed")
    if len(inputs) > settings.DIHYA_MAX_EMBEDDING_INPUTS:
        raise ValueError(f"at most {settings.DIHYA_MAX_EMBEDDING_INPUTS} inputs")
    total = 0
    for i, value in enumerate(inputs):
        if not value:
            raise ValueError(f"input {i} is empty")
        if isinstance(value, str):
            check_message(value)
            total += len(value)
        else:
            weight = 4 * len(value)
            if weight > settings.DIHYA_MAX_MESSAGE_CHARS:
                raise ValueError(f"at most {settings.DIHYA_MAX_MESSAGE_CHARS // 4} tokens per "
                                 "input")
            total += weight
    if total > settings.DIHYA_MAX_TOTAL_CHARS:
        raise ValueError(f"at most {settings.DIHYA_MAX_TOTAL_CHARS} characters in all inputs")
