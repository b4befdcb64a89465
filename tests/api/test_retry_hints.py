"""What a client's SDK should do next: retry only what a retry can fix, and wait as long as the
breakers know it must. A JSON answer cut at the caller's own max_tokens is an answer, not a
failure to retry."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.api.fake_engine import answer, fake_engine  # noqa: F401 - a fixture

ASK = [{"role": "user", "content": "Give me a person as JSON"}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "schema": {
    "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}}}


def post(api: str, key: str | None, **fields) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(api + "/v1/chat/completions", headers=headers,
                      json={"model": "default", "messages": ASK, **fields})


def test_a_json_answer_cut_at_max_tokens_is_returned_cut(api, fake_engine, make_engine,  # noqa: F811
                                                         make_route, make_key):
    make_route("default", make_engine(fake_engine.url, name="fake",
                                      capabilities=["chat", "json_schema"]))
    fake_engine.reply(answer('{"name": "Ada Lo', finish_reason="length"))
    sdk = openai.OpenAI(base_url=api + "/v1", api_key=make_key(), max_retries=0)

    done = sdk.chat.completions.create(model="default", messages=ASK, max_tokens=5,
                                       response_format=SCHEMA)

    assert done.choices[0].finish_reason == "length"
    assert done.choices[0].message.content == '{"name": "Ada Lo'
    assert len(fake_engine.requests) == 1


def test_refusals_a_retry_cannot_fix_say_so(api, fake_engine, make_engine, make_route,  # noqa: F811
                                            make_key):
    make_route("default", make_engine(fake_engine.url, name="fake"), max_tokens=10)
    key = make_key()

    for response in (post(api, key, max_tokens=11), post(api, None),
                     post(api, key, model="nowhere"), post(api, key, top_k=3),
                     httpx.get(api + "/v1/nothing-here")):
        assert 400 <= response.status_code < 500
        assert response.headers["x-should-retry"] == "false", response.status_code
    assert "x-should-retry" not in post(api, key).headers


def test_a_429_may_be_retried(api, fake_engine, make_engine, make_route, make_key,  # noqa: F811
                              settings):
    from dihya.gateway.models import ApiClient
    from quotas.models import Assignment, Limit, Plan

    make_route("default", make_engine(fake_engine.url, name="fake"))
    key = make_key()
    plan = Plan.objects.create(name="one")
    Limit.objects.create(plan=plan, amount=1, metric="requests", period="minute")
    Assignment.objects.create(client=ApiClient.objects.get(name="app"), plan=plan)

    assert post(api, key).status_code == 200
    refused = post(api, key)
    assert refused.status_code == 429 and "x-should-retry" not in refused.headers


@pytest.fixture
def quick_breaker(settings):
    settings.DIHYA_BREAKER_FAILURES = 1
    settings.DIHYA_BREAKER_COOLDOWN = 30


def test_a_503_says_when_the_breakers_let_an_engine_through(api, quick_breaker, dead_url,
                                                            make_engine, make_route, make_key):
    make_route("default", make_engine(dead_url, name="a"), make_engine(dead_url, name="b"))
    key = make_key()

    for _ in range(2):  # the first call opens both breakers; the second skips both
        started = time.time()
        failed = post(api, key)
        assert failed.status_code == 503
        assert failed.json()["error"]["code"] == "all_engines_failed"
        assert 30 - (time.time() - started) - 1 <= int(failed.headers["Retry-After"]) <= 30
        assert "x-should-retry" not in failed.headers


def test_no_retry_after_when_an_engine_may_answer_a_retry(api, dead_url, make_engine,
                                                          make_route, make_key):
    make_route("default", make_engine(dead_url, name="a"))  # 1 failure of 3: still closed

    failed = post(api, make_key())

    assert failed.status_code == 503 and "Retry-After" not in failed.headers
