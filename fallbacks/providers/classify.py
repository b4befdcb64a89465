"""Read an engine's error answer into a `Failure`, and its headers into a wait.

Every provider funnels its non-2xx answers (and the error objects some servers put inside a
200 or a stream) through `classify_response`, so the runner sees one vocabulary whatever the
wire protocol. Structured fields (`error.code`, `error.type`, Mistral's top-level `type` /
`code`) decide first; free-text markers are only a fallback for servers that send prose.
This module never raises on a malformed body or header: an unreadable signal is no signal.

Sources for the shapes handled here (fixtures in tests/providers/fixtures/ cite them too):
- OpenAI: error body {"error": {"message", "type", "param", "code"}}, `insufficient_quota`,
  `rate_limit_exceeded`, `context_length_exceeded`, `model_not_found`; rate-limit headers
  `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` with Go-style durations ("1s",
  "6m0s", "12ms") — platform.openai.com/docs/guides/rate-limits, .../error-codes.
- llama.cpp server: {"error": {"code": 400, "message": "...", "type":
  "exceed_context_size_error"}}; 503 {"error": {"code": 503, "message": "Loading model",
  "type": "unavailable_error"}}.
- Ollama: {"error": "model 'x' not found"} with 404; 429 when rate limited; mid-stream
  errors as an NDJSON line {"error": "..."} — docs.ollama.com/api/errors.
- Capability errors, answered by engines asked for what they cannot do: llama.cpp "tools
  param requires --jinja flag" and "image input is not supported"; Ollama "model 'x' does
  not support tools" (also thinking, vision); vLLM '"auto" tool choice requires
  --enable-auto-tool-choice and --tool-call-parser to be set'. For embeddings: llama.cpp
  without `--embeddings` answers 501 "This server does not support embeddings. Start it with
  `--embeddings`"; Ollama and OpenAI-style servers, asked to embed with a chat-only model,
  "does not support embeddings" / "does not support the embeddings API".
- Mistral: {"object": "error", "message", "type", "param", "code"}, e.g. type
  `rate_limited` code "1300", `service_tier_capacity_exceeded` code "3505", `invalid_model`;
  older gateway answers {"message": "Requests rate limit exceeded"}; 401 "Unauthorized".
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import httpx

from fallbacks.errors import Failure, ProviderError

#: Never cool an engine down longer than this on the word of one header.
MAX_WAIT = 86400.0

QUOTA_CODES = frozenset({"insufficient_quota", "quota_exceeded", "billing_hard_limit_reached",
                         "billing_not_active"})
RATE_CODES = frozenset({"rate_limit_exceeded", "rate_limited", "rate_limit_error", "requests",
                        "tokens", "1300", "3505", "service_tier_capacity_exceeded"})
CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
MODEL_CODES = frozenset({"model_not_found", "invalid_model"})

QUOTA_MARKERS = ("insufficient_quota", "exceeded your current quota", "quota exceeded",
                 "quota_exceeded", "out of credit", "usage limit", "credit balance")
CAPABILITY_MARKERS = ("does not support tools", "does not support thinking",
                      "does not support vision", "does not support images", "requires --jinja",
                      "tool choice requires", "--enable-auto-tool-choice",
                      "image input is not supported", "audio input is not supported",
                      "multimodal is not supported", "does not support embeddings",
                      "start it with `--embeddings`", "does not support the embeddings api",
                      "embeddings are not supported", "does not support")
CONTEXT_MARKERS = ("context length", "context_length", "maximum context", "too many tokens",
                   "exceeds the available context", "exceed_context_size", "context window",
                   "prompt too long")


@dataclass(frozen=True, slots=True)
class ErrorBody:
    text: str                 # the human message, for the attempt's detail
    codes: frozenset[str]     # structured code/type values, lower-cased
    lowered: str              # message plus raw body, lower-cased, for marker search

    def says(self, codes: frozenset[str], markers: tuple[str, ...] = ()) -> bool:
        return bool(self.codes & codes) or any(m in self.lowered for m in markers)


def read_error(body: str) -> ErrorBody:
    """The message and structured codes of an error body, whatever its JSON shape."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    codes: set[str] = set()
    text = body.strip()[:300]
    if isinstance(data, dict):
        err = data.get("error", data)
        for holder in (err, data):
            if isinstance(holder, dict):
                codes.update(str(holder[k]).lower() for k in ("code", "type")
                             if holder.get(k) not in (None, ""))
        if isinstance(err, dict):
            message = err.get("message", err.get("detail"))
            parts = [str(err.get(k)) for k in ("code", "type") if err.get(k)]
            if isinstance(message, str):
                parts.append(message)
            elif message is not None:
                parts.append(json.dumps(message)[:300])
            text = " ".join(parts)[:300] or json.dumps(err)[:300]
        elif err is not None:
            text = str(err)[:300]
    elif data is not None:
        text = str(data)[:300]
    codes.discard("error")  # Mistral's "object": "error" is not a code, but guard "type": "error"
    return ErrorBody(text, frozenset(codes), (text + " " + body[:2000]).lower())


def error_text(body: str) -> str:
    """The human message inside an error body, whatever its JSON shape."""
    return read_error(body).text


def classify_response(status: int, headers: httpx.Headers | dict[str, str],
                      body: str) -> ProviderError:
    err = read_error(body)
    text = err.text
    quota = err.says(QUOTA_CODES, QUOTA_MARKERS)
    if status in (429, 402) or (status == 403 and quota):
        # A structured rate-limit code wins over prose: OpenAI's RPM message mentions billing.
        if err.says(RATE_CODES) and not err.says(QUOTA_CODES):
            failure = Failure.RATE_LIMITED
        elif status == 402 or quota:
            failure = Failure.QUOTA
        else:
            failure = Failure.RATE_LIMITED
        return ProviderError(failure, text, status=status, retry_after=retry_after_seconds(headers))
    if status in (401, 403):
        return ProviderError(Failure.AUTH, text, status=status)
    if status == 408:
        return ProviderError(Failure.TIMEOUT, text, status=status)
    if status in (400, 422, 500, 501) and err.says(frozenset(), CAPABILITY_MARKERS):
        # Not the client's bad request and not a sick engine: this one cannot do it.
        return ProviderError(Failure.UNSUPPORTED, text, status=status)
    if 400 <= status < 500 and err.says(CONTEXT_CODES, CONTEXT_MARKERS):
        return ProviderError(Failure.CONTEXT_TOO_LONG, text, status=status)
    if status == 404 or (400 <= status < 500 and err.says(MODEL_CODES)):
        # Unknown model or wrong base URL: a configuration fault of this engine, not the request.
        return ProviderError(Failure.SERVER, text, status=status)
    if 400 <= status < 500:
        return ProviderError(Failure.BAD_REQUEST, text, status=status)
    return ProviderError(Failure.SERVER, text, status=status,
                         retry_after=retry_after_seconds(headers))


def in_band_error(data: dict[str, Any]) -> ProviderError | None:
    """An error object inside a 200 answer or a stream chunk, classified like an HTTP one.

    vLLM and llama.cpp carry the would-be status in `error.code`; without one it is a server
    fault (the engine failed while answering).
    """
    err = data.get("error")
    if not err:
        return None
    status = 500
    if isinstance(err, dict) and isinstance(err.get("code"), int) and 400 <= err["code"] < 600:
        status = err["code"]
    return classify_response(status, {}, json.dumps(data))


def retry_after_seconds(headers: httpx.Headers | dict[str, str]) -> float | None:
    """Seconds to wait before calling this engine again, or None if the headers don't say.

    Order: `retry-after-ms`, `Retry-After` (seconds or HTTP date), then OpenAI's
    `x-ratelimit-reset-{requests,tokens}` — the one whose `remaining` is 0 if the headers say
    which limit was hit, else the longer one — then a bare `x-ratelimit-reset` (seconds, or
    an epoch timestamp as some APIs send).
    """
    headers = httpx.Headers(headers)
    if (ms := _number(headers.get("retry-after-ms", ""))) is not None:
        return _bounded(ms / 1000)
    value = headers.get("retry-after", "").strip()
    if value:
        if (seconds := _number(value)) is not None:
            return _bounded(seconds)
        if (seconds := _http_date_in(value)) is not None:
            return _bounded(seconds)
    resets = {kind: parse_duration(headers.get(f"x-ratelimit-reset-{kind}", ""))
              for kind in ("requests", "tokens")}
    known = {kind: s for kind, s in resets.items() if s is not None}
    exhausted = [s for kind, s in known.items()
                 if headers.get(f"x-ratelimit-remaining-{kind}", "").strip() == "0"]
    if exhausted or known:
        return _bounded(max(exhausted or known.values()))
    if (seconds := parse_duration(headers.get("x-ratelimit-reset", ""))) is not None:
        if seconds > 1e9:  # an epoch timestamp, not a duration
            seconds -= time.time()
        return _bounded(seconds)
    return None


_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|m|s|us|µs|ns))+")
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(value: str) -> float | None:
    """Go-style durations as OpenAI sends them ('1s', '6m0s', '20ms', '1h2m3.5s') or seconds."""
    value = (value or "").strip()
    if not value:
        return None
    seconds = _number(value)
    if seconds is None:
        if not _DURATION.fullmatch(value):
            return None
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _http_date_in(value: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - time.time()


def _bounded(seconds: float) -> float:
    return min(max(0.0, seconds), MAX_WAIT)
