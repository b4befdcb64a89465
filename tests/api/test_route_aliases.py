"""Route aliases: the model names coding agents send by default reach the route an admin chose,
resolved the same way every time, and listed in /v1/models."""

from __future__ import annotations

import anthropic
import httpx
import pytest
from django.core.exceptions import ValidationError

from dihya.gateway.models import Generation
from fallbacks import aliases, catalog
from fallbacks.models import Route
from tests.api.fake_engine import fake_engine  # noqa: F401 - a fixture

TABLE = [("default", ["claude-*", "gpt-*", "o3"]),
         ("coder", ["gpt-5*", "claude-sonnet-4-5"]),
         ("fast", ["claude-*-haiku-*", "claude-haiku*"])]


@pytest.mark.parametrize(("name", "route"), [
    ("claude-sonnet-4-5", "coder"),           # exact alias beats any pattern
    ("claude-opus-4-1-20250805", "default"),  # only claude-* matches
    ("claude-3-5-haiku-20241022", "fast"),    # claude-*-haiku-* is more specific
    ("claude-haiku-4-5", "fast"),
    ("gpt-5-codex", "coder"),                 # gpt-5* beats gpt-*
    ("gpt-4.1", "default"),
    ("o3", "default"),
    ("o3-mini", None),                        # an exact alias is no prefix
    ("Claude-x", None),                       # case-sensitive, as route names are
])
def test_it_resolves_exact_aliases_then_the_most_specific_pattern(name, route):
    assert aliases.resolve(name, TABLE) == route
    assert aliases.resolve(name, list(reversed(TABLE))) == route  # whatever the order


def test_two_equally_specific_patterns_always_pick_the_same_route():
    table = [("a", ["x-y-*"]), ("b", ["x-*-z"])]  # as literal and as long: the pattern
    assert aliases.resolve("x-y-z", table) == aliases.resolve("x-y-z", table[::-1]) == "b"


def test_only_star_is_special():
    assert aliases.problems("r", ["gpt-?", "claude-[a]*"], {}) == [
        (0, "'gpt-?': " + aliases.ALIAS_RULE), (1, "'claude-[a]*': " + aliases.ALIAS_RULE)]


def test_the_model_refuses_aliases_that_would_be_ambiguous(db):
    Route.objects.create(name="default", aliases=["claude-*", "gpt-4o"])
    for listed, message in [
            (["gpt-4o"], "'gpt-4o' is already an alias of route 'default'"),
            (["claude-*"], "'claude-*' is already an alias of route 'default'"),
            (["default"], "'default' is the name of a route"),
            (["x", "x"], "'x' is listed twice"),
            ("claude-*", 'aliases are a list of names, e.g. ["claude-*", "gpt-5"]')]:
        with pytest.raises(ValidationError) as refused:
            Route(name="other", aliases=listed).full_clean()
        assert refused.value.message_dict == {"aliases": [message]}
    with pytest.raises(ValidationError) as refused:
        Route(name="gpt-4o").full_clean()
    assert refused.value.message_dict == {
        "name": ["the route's name 'gpt-4o' is an alias of route 'default'"]}


def test_the_catalog_resolves_and_remembers_like_route_names(db, make_engine, make_route,
                                                            django_assert_num_queries):
    make_route("default", make_engine("http://e.test/v1"))
    make_route("coder", make_engine("http://c.test/v1"))
    Route.objects.filter(name="coder").update(aliases=["gpt-5*"])
    Route.objects.filter(name="default").update(aliases=["gpt-*"])
    catalog.forget()

    assert catalog.route_spec("gpt-5-codex").name == "coder"
    assert catalog.route_spec("gpt-4.1").name == "default"
    assert catalog.route_spec("claude-x") is None
    with django_assert_num_queries(0):
        assert catalog.route_spec("gpt-5-codex").name == "coder"

    route = Route.objects.get(name="coder")
    route.aliases = []
    route.save()  # the signal forgets every snapshot
    assert catalog.route_spec("gpt-5-codex").name == "default"


@pytest.fixture
def route(api, fake_engine, make_engine, make_route):  # noqa: F811
    route = make_route("default", make_engine(fake_engine.url, name="fake"))
    route.aliases = ["claude-*", "gpt-4.1"]
    route.save()
    return route


def test_a_chat_with_an_aliased_name_runs_on_the_route(api, route, make_key, fake_engine):  # noqa: F811
    response = httpx.post(api + "/v1/chat/completions", headers={
        "Authorization": f"Bearer {make_key()}"}, json={
        "model": "claude-sonnet-4-5-20250929", "messages": [{"role": "user", "content": "hi"}]})

    assert response.status_code == 200, response.text
    assert response.json()["model"] == "default"  # the answer names the route it ran on
    assert Generation.objects.get().route_name == "default"
    assert fake_engine.requests[0]["model"] == "smollm2-135m"


def test_a_key_limited_to_other_routes_cannot_use_an_alias_of_this_one(api, route, make_route,
                                                                       make_key):
    make_route("other")
    key = make_key("limited", routes=["other"])
    response = httpx.post(api + "/v1/chat/completions", headers={
        "Authorization": f"Bearer {key}"}, json={
        "model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "route_not_allowed"


def test_the_models_list_shows_aliases_and_lists_exact_ones_as_models(api, route, make_key):
    auth = {"Authorization": f"Bearer {make_key()}"}

    listed = httpx.get(api + "/v1/models", headers=auth).json()["data"]

    assert [(m["id"], m["aliases"], m.get("alias_of")) for m in listed] == [
        ("default", ["claude-*", "gpt-4.1"], None), ("gpt-4.1", [], "default")]
    one = httpx.get(api + "/v1/models/claude-opus-4-1", headers=auth).json()
    assert (one["id"], one["alias_of"]) == ("claude-opus-4-1", "default")
    assert httpx.get(api + "/v1/models/mistral-large", headers=auth).status_code == 404


def test_claude_codes_default_model_and_max_tokens_reach_the_route(
        api, route, make_key, fake_engine):  # noqa: F811
    sdk = anthropic.Anthropic(base_url=api, api_key=make_key(), max_retries=0, timeout=30)

    message = sdk.messages.create(model="claude-sonnet-4-5-20250929", max_tokens=32_000,
                                  messages=[{"role": "user", "content": "hi"}])

    assert message.content[0].text == "Hello"
    assert fake_engine.requests[0]["max_tokens"] == 32_000
    assert Generation.objects.get().route_name == "default"
