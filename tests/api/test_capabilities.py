"""Capabilities at the API: a route that cannot serve a field says so by name, or drops it."""

from __future__ import annotations

import httpx
import openai
import pytest
from django.core.exceptions import ValidationError

from dihya import config
from dihya.gateway.models import ApiClient, Attempt, Generation
from fallbacks.models import Engine, Route
from tests.api.fake_engine import answer, fake_engine  # noqa: F401 - a fixture
from tests.conftest import recorded

TOOLS = [{"type": "function", "function": {"name": "get_weather",
                                           "parameters": {"type": "object"}}}]
ASK = {"model": "default", "messages": [{"role": "user", "content": "weather?"}], "tools": TOOLS}


def post(api: str, key: str, body: dict) -> httpx.Response:
    return httpx.post(api + "/v1/chat/completions", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}"})


def test_a_route_without_tools_refuses_them_by_name_or_drops_them(api, fake_engine,  # noqa: F811
                                                                  make_engine, make_route,
                                                                  make_key):
    make_route("default", make_engine(fake_engine.url, capabilities=["chat"]))
    key = make_key()

    response = post(api, key, ASK)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "unsupported_parameter"
    assert response.json()["error"]["param"] == "tools"
    assert not fake_engine.requests and not Generation.objects.exists()

    route = Route.objects.get(name="default")
    route.drop_params = ["tools"]
    route.save()  # as the admin and `config apply` do: the route snapshot is renewed
    response = post(api, key, ASK)
    assert response.status_code == 200, response.text
    assert response.headers["X-Dihya-Dropped-Params"] == "tools"
    assert "tools" not in fake_engine.requests[0]


def test_a_client_that_drops_a_field_gets_it_dropped_on_every_route(api, fake_engine,  # noqa: F811
                                                                    make_engine, make_route,
                                                                    make_key):
    make_route("default", make_engine(fake_engine.url, capabilities=["chat"]))
    dropping = make_key("agent")
    ApiClient.objects.filter(name="agent").update(drop_params=["tools"])
    strict = make_key("strict")

    response = post(api, dropping, ASK)
    assert response.status_code == 200, response.text
    assert response.headers["X-Dihya-Dropped-Params"] == "tools"
    assert "tools" not in fake_engine.requests[0]

    response = post(api, strict, ASK)  # the route drops nothing: another client is refused
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "tools"


def test_the_engine_with_tools_serves_and_the_other_is_skipped(api, fake_engine,  # noqa: F811
                                                               make_engine, make_route,
                                                               make_key):
    fake_engine.reply(answer(None, finish_reason="tool_calls", tool_calls=[
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{}"}}]))
    make_route("default", make_engine(fake_engine.url, name="plain", capabilities=["chat"]),
               make_engine(fake_engine.url, name="agent", capabilities=["chat", "tools"]))

    response = post(api, make_key(), ASK)

    assert response.status_code == 200, response.text
    assert response.headers["X-Dihya-Engine"] == "agent" and len(fake_engine.requests) == 1
    recorded()
    assert list(Attempt.objects.order_by("position").values_list("outcome", "detail")) == [
        ("unsupported", "lacks tools"), ("ok", "ordered: the route's order")]


def test_engines_declare_capabilities_in_files_and_rows(db):
    where = "provider: ollama, base_url: 'http://ollama.test:11434', model: m"
    config.apply_yaml(f"engines:\n  - {{name: e, {where}, capabilities: [chat, vision]}}\n"
                      f"  - {{name: f, {where}}}\n"
                      "routes:\n  - {name: r, engines: [e], drop_params: [logit_bias]}\n")
    e, f = Engine.objects.get(name="e"), Engine.objects.get(name="f")
    assert e.capability_set() == {"chat", "vision"}
    assert f.capabilities == [] and f.capability_set() == {"chat", "tools", "json_schema"}
    exported = config.load_yaml(config.export_yaml())
    assert exported["engines"][0]["capabilities"] == ["chat", "vision"]
    assert exported["routes"][0]["drop_params"] == ["logit_bias"]
    assert config.apply_yaml(config.export_yaml()) == []  # nothing changes on a round trip

    e.capabilities = ["chat", "telepathy"]
    with pytest.raises(ValidationError):
        e.full_clean()


def test_models_show_what_each_route_can_do_and_retrieve_one(api, make_engine, make_route,
                                                             make_key):
    make_route("default", make_engine("http://a.test/v1", capabilities=["chat"]),
               make_engine("http://b.test/v1", capabilities=["chat", "vision"]),
               make_engine("http://c.test/v1", capabilities=["chat", "tools"], enabled=False))
    make_route("secret")
    sdk = openai.OpenAI(base_url=api + "/v1", api_key=make_key(), max_retries=0)

    listed = sdk.models.list().data
    one = sdk.models.retrieve("default")

    assert [m.id for m in listed] == ["default"]
    assert listed[0].model_extra["capabilities"] == ["chat", "vision"]
    assert one.id == "default" and one.model_extra["capabilities"] == ["chat", "vision"]
    for hidden in ("secret", "nope"):
        with pytest.raises(openai.NotFoundError) as info:
            sdk.models.retrieve(hidden)
        assert info.value.body["code"] == "model_not_found"
