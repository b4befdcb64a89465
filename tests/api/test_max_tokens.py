"""max_tokens: the default a request without one gets is not the ceiling. Out of the box a
route serves what coding agents send (Claude Code 2.1 asks for 128,000 tokens) and a request
that sets none gets DIHYA_DEFAULT_MAX_TOKENS; a ceiling the admin set is still a clear 400."""

from __future__ import annotations

import httpx
import pytest

from tests.api.fake_engine import fake_engine  # noqa: F401 - a fixture

ASK = [{"role": "user", "content": "Edit the file"}]


def chat(api: str, key: str, **fields) -> httpx.Response:
    return httpx.post(api + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                      json={"model": "default", "messages": ASK, **fields})


@pytest.fixture
def key(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake"))
    return make_key()


def test_a_route_without_a_ceiling_serves_what_claude_code_sends(api, key, fake_engine):  # noqa: F811
    assert chat(api, key, max_tokens=128_000).status_code == 200
    assert chat(api, key, max_completion_tokens=131_072).status_code == 200
    assert [r["max_tokens"] for r in fake_engine.requests] == [128_000, 131_072]

    error = chat(api, key, max_tokens=131_073).json()["error"]
    assert (error["code"], error["param"]) == ("invalid_request", "max_tokens")
    assert "allows at most 131072" in error["message"]


def test_a_request_without_max_tokens_gets_the_default_not_the_ceiling(api, key, fake_engine):  # noqa: F811
    assert chat(api, key).status_code == 200
    assert fake_engine.requests[0]["max_tokens"] == 4096


def test_both_are_settings(api, fake_engine, make_engine, make_route, make_key, settings):  # noqa: F811
    settings.DIHYA_DEFAULT_MAX_TOKENS = 100
    settings.DIHYA_MAX_TOKENS_CEILING = 200
    make_route("default", make_engine(fake_engine.url, name="fake"))
    key = make_key()

    assert chat(api, key).status_code == 200
    assert chat(api, key, max_tokens=201).status_code == 400
    assert [r["max_tokens"] for r in fake_engine.requests] == [100]


def test_a_ceiling_the_admin_set_is_a_400_naming_the_param(api, fake_engine, make_engine,  # noqa: F811
                                                           make_route, make_key):
    make_route("default", make_engine(fake_engine.url, name="fake"), max_tokens=1000)
    key = make_key()

    refused = chat(api, key, max_completion_tokens=1001)
    assert chat(api, key).status_code == chat(api, key, max_tokens=1000).status_code == 200

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "max_completion_tokens"
    assert error["message"] == ("max_completion_tokens is 1001; route 'default' allows at "
                                "most 1000.")
    # Below the global default, the ceiling is the default too.
    assert [r["max_tokens"] for r in fake_engine.requests] == [1000, 1000]
