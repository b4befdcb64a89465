"""Counting a prompt's tokens with an engine's own tokenizer, where it has one.

llama.cpp's server answers `POST /tokenize` (`{"content": text}` → `{"tokens": [...]}`), at the
root beside its OpenAI-compatible `/v1`. Other engines have no such endpoint, or one only a
vendor's SDK speaks: for them, and whenever the call fails, the caller falls back on the
quotas' estimate (characters / 4). Nothing here is a generation: no breaker, no attempt.
"""

from __future__ import annotations

import logging

import httpx

from fallbacks import http
from fallbacks.spec import EngineSpec

log = logging.getLogger(__name__)

#: Providers whose engines may be llama.cpp (an OpenAI-compatible server).
TOKENIZING_PROVIDERS = ("openai",)
TIMEOUT = 5.0  # seconds: a count is a quick question, never worth a long wait


def tokenize_url(engine: EngineSpec) -> str:
    return engine.base_url.rstrip("/").removesuffix("/v1") + "/tokenize"


async def count(engine: EngineSpec, text: str) -> int | None:
    """How many tokens `text` is for this engine, or None if it cannot say."""
    if engine.provider not in TOKENIZING_PROVIDERS:
        return None
    headers = {"Authorization": f"Bearer {engine.api_key}"} if engine.api_key else {}
    try:
        response = await http.client().post(
            tokenize_url(engine), json={"content": text}, headers=headers,
            timeout=httpx.Timeout(TIMEOUT, connect=min(engine.connect_timeout, TIMEOUT)))
        tokens = response.json().get("tokens") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        log.info("engine %s: no token count (%s)", engine.name, exc)
        return None
    return len(tokens) if isinstance(tokens, list) else None
