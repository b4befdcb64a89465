"""Every way a call can fail, for every provider, as the one Failure the runner acts on.

Each case runs through `complete` and through `stream`, because the two read errors on
different paths (a whole body versus a response opened for streaming).
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from fallbacks.errors import Failure
from fallbacks.policy import DEFAULT, Action
from fallbacks.providers import registry
from tests.conftest import free_port
from tests.providers.fakes import (
    REQUEST,
    Fake,
    answer,
    collect,
    complete,
    engine,
    failure_of,
    fixture,
    run,
)

PROVIDERS = ("openai", "ollama", "mistral")
MODES = {"complete": complete, "stream": collect}


def in_two_minutes() -> str:
    return email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)


# (provider, status, fixture or raw body, headers, failure, expected retry_after or None)
CASES = [
    # rate limited, with each way of saying when to come back
    ("openai", 429, "openai_rate_limited.json", {"retry-after": "30"}, Failure.RATE_LIMITED, 30),
    ("openai", 429, "openai_rate_limited.json",
     {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-remaining-tokens": "149984", "x-ratelimit-reset-tokens": "6m0s"},
     Failure.RATE_LIMITED, 1),
    ("openai", 429, "openai_rate_limited.json", {"x-ratelimit-reset-tokens": "6m0s"},
     Failure.RATE_LIMITED, 360),
    ("ollama", 429, "ollama_rate_limited.json", {"retry-after": "in-two-minutes"},
     Failure.RATE_LIMITED, 120),
    ("mistral", 429, "mistral_rate_limited.json", {"retry-after": "7"}, Failure.RATE_LIMITED, 7),
    ("mistral", 429, "mistral_requests_rate_limit.json", {}, Failure.RATE_LIMITED, None),
    ("mistral", 429, "mistral_capacity.json", {}, Failure.RATE_LIMITED, None),
    # out of quota: the account, not the minute
    ("openai", 429, "openai_insufficient_quota.json", {}, Failure.QUOTA, None),
    ("ollama", 429, "ollama_usage_limit.json", {"retry-after": "3600"}, Failure.QUOTA, 3600),
    ("mistral", 402, '{"message": "Payment required"}', {}, Failure.QUOTA, None),
    # the engine is broken or busy
    ("openai", 500, "Internal Server Error", {"content-type": "text/plain"}, Failure.SERVER, None),
    ("openai", 503, "llamacpp_loading.json", {}, Failure.SERVER, None),
    ("ollama", 500, '{"error": "failed to load model: out of memory"}', {}, Failure.SERVER, None),
    ("ollama", 404, "ollama_model_not_found.json", {}, Failure.SERVER, None),
    ("mistral", 502, "<html>Bad Gateway</html>", {"content-type": "text/html"},
     Failure.SERVER, None),
    # the request is wrong (no other engine will do better)
    ("openai", 400, "openai_bad_request.json", {}, Failure.BAD_REQUEST, None),
    ("ollama", 400, "ollama_bad_request.json", {}, Failure.BAD_REQUEST, None),
    ("mistral", 400, "mistral_invalid_request.json", {}, Failure.BAD_REQUEST, None),
    # too long for this engine (maybe not for the next)
    ("openai", 400, "openai_context_length.json", {}, Failure.CONTEXT_TOO_LONG, None),
    ("openai", 400, "llamacpp_context_size.json", {}, Failure.CONTEXT_TOO_LONG, None),
    ("ollama", 400, "ollama_context_length.json", {}, Failure.CONTEXT_TOO_LONG, None),
    ("mistral", 400, "mistral_context_length.json", {}, Failure.CONTEXT_TOO_LONG, None),
    # our key is wrong
    ("openai", 401, "openai_invalid_api_key.json", {}, Failure.AUTH, None),
    ("ollama", 401, '{"error": "unauthorized", "signin_url": "https://ollama.com/connect"}', {},
     Failure.AUTH, None),
    ("mistral", 401, "mistral_unauthorized.json", {}, Failure.AUTH, None),
]


def body_of(name_or_body: str) -> str:
    is_fixture = name_or_body.endswith((".json", ".sse", ".ndjson"))
    return fixture(name_or_body) if is_fixture else name_or_body


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("provider", "status", "body", "headers", "failure", "wait"), CASES)
def test_it_classifies_error_answers(mode, provider, status, body, headers, failure, wait):
    if headers.get("retry-after") == "in-two-minutes":
        headers = {**headers, "retry-after": in_two_minutes()}
    fake = Fake(answer(status, body_of(body), headers=headers))
    error = failure_of(lambda: MODES[mode](fake.provider(provider)))
    assert error.failure == failure
    assert error.status == status
    assert error.detail
    if wait is None:
        assert error.retry_after is None
    else:
        assert error.retry_after == pytest.approx(wait, abs=5)
    assert (DEFAULT.action(failure, 0) is Action.STOP) == (failure == Failure.BAD_REQUEST)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_reports_a_refused_connection(mode, provider):
    url = f"http://127.0.0.1:{free_port()}" + ("/v1" if provider == "openai" else "")

    async def call():
        async with httpx.AsyncClient() as client:
            p = registry.get(provider)(engine(provider, base_url=url), client)
            if mode == "complete":
                return await p.complete(REQUEST)
            return [d async for d in p.stream(REQUEST)]

    assert failure_of(lambda: run(call())).failure == Failure.CONNECT


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("exc", [httpx.ReadTimeout("read"), httpx.ConnectTimeout("connect"),
                                 httpx.PoolTimeout("pool")])
def test_it_reports_timeouts(mode, provider, exc):
    fake = Fake(exc)
    assert failure_of(lambda: MODES[mode](fake.provider(provider))).failure == Failure.TIMEOUT


@respx.mock
def test_it_reports_a_read_timeout_seen_through_respx():
    respx.post("http://engine.test/v1/chat/completions").mock(side_effect=httpx.ReadTimeout)

    async def call():
        async with httpx.AsyncClient() as client:
            return await registry.get("openai")(engine("openai"), client).complete(REQUEST)

    assert failure_of(lambda: run(call())).failure == Failure.TIMEOUT


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_it_reports_garbage_as_a_bad_response(mode, provider):
    fake = Fake(answer(200, "<html>captive portal</html>", content_type="application/json"))
    assert failure_of(lambda: MODES[mode](fake.provider(provider))).failure \
        == Failure.BAD_RESPONSE


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("url", ["ftp://engine.test", "http://[::1"])
def test_it_reports_an_unusable_base_url_as_not_configured(provider, url):
    async def call():
        async with httpx.AsyncClient() as client:  # real transport: it is what refuses ftp://
            return await registry.get(provider)(engine(provider, base_url=url), client).complete(
                REQUEST)

    assert failure_of(lambda: run(call())).failure == Failure.NOT_CONFIGURED


def test_it_caps_a_bogus_retry_after_at_one_day():
    far = {"retry-after": str(10 * 365 * 86400)}
    fake = Fake(answer(429, fixture("openai_insufficient_quota.json"), headers=far))
    error = failure_of(lambda: complete(fake.provider("openai")))
    assert error.failure == Failure.QUOTA
    assert error.retry_after == 86400  # one bogus header cannot park an engine for years
