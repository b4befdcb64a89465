"""`context_fit`, the filter any strategy can have on: skip engines a request cannot fit.

The estimate is fast and needs no tokenizer: characters / 4 (rounded up) plus a few tokens
per message for the chat template, plus max_tokens. It errs on neither side by much for
English text; an engine that still answers "context too long" is a 400 the runner already
moves past.
"""

from __future__ import annotations

import math

from fallbacks.errors import Failure
from fallbacks.spec import ChatRequest, EngineSpec, Request

CONTEXT_TOO_LONG = Failure.CONTEXT_TOO_LONG.value  # the outcome of an engine's own 400, too
PER_MESSAGE = 4


def prompt_tokens(request: Request) -> int:
    if not isinstance(request, ChatRequest):  # embeddings: each input is embedded alone
        return math.ceil(request.prompt_chars / 4)
    chars = sum(len(m.content) for m in request.messages)
    return math.ceil(chars / 4) + PER_MESSAGE * len(request.messages)


def fits(engine: EngineSpec, tokens: int) -> bool:
    return not engine.context_window or tokens <= engine.context_window
