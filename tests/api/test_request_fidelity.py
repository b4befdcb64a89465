"""No silent drops: what agent frameworks send is carried to the engine, or refused by name."""

from __future__ import annotations

import base64

import httpx
import pytest

from dihya.gateway.models import Generation
from dihya.generation import records
from dihya.generation.requests import ChatBody
from fallbacks.models import Route
from tests.api.fake_engine import fake_engine  # noqa: F401 - a fixture

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
PIXEL = "data:image/png;base64," + base64.b64encode(b"\x89PNG fake pixel").decode()
AGENT_TURN = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris? And this:"},
                                 {"type": "image_url", "image_url": {"url": PIXEL}}]},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc123", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": '{"celsius": 21}'},
]
FULL = {"model": "default", "messages": AGENT_TURN, "tools": [WEATHER], "tool_choice": "auto",
        "parallel_tool_calls": False,
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "strict": True,
            "schema": {"type": "object", "properties": {"text": {"type": "string"}}}}},
        "logprobs": True, "top_logprobs": 2, "presence_penalty": 0.5,
        "frequency_penalty": -0.5, "logit_bias": {"42": -100}, "reasoning_effort": "low",
        "seed": 7, "stop": ["\n\n"], "max_completion_tokens": 32}


def test_it_carries_every_field_through_the_job_record():
    request = records.request_of(ChatBody.model_validate(FULL), 32)
    again = records.from_record(records.record_of(request))

    assert again == request
    assert again.tools[0].parameters == WEATHER["function"]["parameters"]
    assert again.response_format.schema == FULL["response_format"]["json_schema"]["schema"]
    assistant, tool = again.messages[2], again.messages[3]
    assert assistant.content == "" and assistant.tool_calls[0].name == "get_weather"
    assert tool.tool_call_id == "call_abc123"
    assert again.messages[1].parts[0].url == PIXEL
    assert request.needs == {"chat", "tools", "json_schema", "logprobs", "vision"}


def test_it_turns_legacy_functions_into_tools():
    request = records.request_of(ChatBody.model_validate({
        "model": "m", "messages": [{"role": "user", "content": "hi"}],
        "functions": [WEATHER["function"]], "function_call": {"name": "get_weather"}}), 8)

    assert request.tools[0].name == "get_weather" and request.legacy_functions
    assert (request.tool_choice, request.tool_name) == ("function", "get_weather")


@pytest.fixture
def route(fake_engine, make_engine, make_route):  # noqa: F811
    return make_route("default", make_engine(fake_engine.url, name="fake",
                                             capabilities=["chat", "tools", "json_schema",
                                                           "vision", "logprobs"]))


def post(api: str, key: str, body: dict) -> httpx.Response:
    return httpx.post(api + "/v1/chat/completions", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}"})


def refused(response: httpx.Response, code: str, param: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == (code, param), error


def test_it_sends_the_engine_what_the_client_sent(api, route, make_key, fake_engine):  # noqa: F811
    response = post(api, make_key(), {**FULL, "metadata": {"app": "x"}, "store": False,
                                      "service_tier": "auto", "user": "u1",
                                      "response_format": None})

    assert response.status_code == 200, response.text
    sent = fake_engine.requests[0]
    assert sent["messages"][2] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_abc123", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}
    assert sent["messages"][3] == {"role": "tool", "content": '{"celsius": 21}',
                                   "tool_call_id": "call_abc123"}
    assert sent["messages"][1]["content"][1] == {"type": "image_url", "image_url": {"url": PIXEL}}
    assert sent["tools"] == [WEATHER] and sent["tool_choice"] == "auto"
    assert sent["parallel_tool_calls"] is False
    assert (sent["logprobs"], sent["top_logprobs"], sent["logit_bias"]) == (True, 2, {"42": -100})
    assert (sent["presence_penalty"], sent["frequency_penalty"]) == (0.5, -0.5)
    assert (sent["reasoning_effort"], sent["seed"], sent["stop"]) == ("low", 7, ["\n\n"])
    assert not {"metadata", "store", "service_tier", "user"} & set(sent)
    answer = response.json()
    assert answer["system_fingerprint"] and answer["choices"][0]["logprobs"] is None
    assert answer["choices"][0]["message"]["refusal"] is None
    assert "X-Dihya-Dropped-Params" not in response.headers


def test_it_refuses_unknown_fields_by_name_unless_the_route_drops_them(api, route, make_key,
                                                                        fake_engine):  # noqa: F811
    key = make_key()
    hello = {"model": "default", "messages": [{"role": "user", "content": "hi"}]}

    refused(post(api, key, {**hello, "prediction": {"type": "content"}}),
            "unsupported_parameter", "prediction")
    refused(post(api, key, {**hello, "n": 2}), "unsupported_parameter", "n")
    refused(post(api, key, {**hello, "messages": [{"role": "user", "content": "hi",
                                                   "cache_control": {}}]}),
            "unsupported_parameter", "messages[0].cache_control")
    assert not fake_engine.requests and not Generation.objects.exists()

    route = Route.objects.get(name="default")
    route.drop_params = ["prediction", "n"]
    route.save()  # as the admin and `config apply` do: the route snapshot is renewed
    response = post(api, key, {**hello, "prediction": {"type": "content"}, "n": 2})
    assert response.status_code == 200, response.text
    assert response.headers["X-Dihya-Dropped-Params"] == "n,prediction"
    assert "prediction" not in fake_engine.requests[0]


@pytest.mark.parametrize(("patch", "param"), [
    ({"tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "objekt"}}}]}, "tools[0].function.parameters"),
    ({"tools": [{"type": "function", "function": {"name": "has space"}}]},
     "tools[0].function.name"),
    ({"messages": [{"role": "tool", "content": "21"}]}, "messages[0].tool_call_id"),
    ({"messages": [{"role": "user", "content": [{"type": "video", "video": {}}]}]},
     "messages[0].content[0]"),
    ({"messages": [{"role": "user", "content": None}]}, "messages[0].content"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {
        "url": "file:///etc/passwd"}}]}]}, "messages[0].content[0].image_url.url"),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": 3}}}}, "response_format.json_schema.schema"),
])
def test_it_refuses_malformed_input_with_the_param(api, route, make_key, patch, param):
    body = {"model": "default", "messages": [{"role": "user", "content": "hi"}], **patch}
    refused(post(api, make_key(), body), "invalid_request", param)


def test_it_refuses_an_oversized_image(api, route, make_key, settings):
    settings.DIHYA_MAX_IMAGE_BYTES = 30
    big = "data:image/png;base64," + base64.b64encode(b"x" * 60).decode()
    body = {"model": "default", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": big}}]}]}
    refused(post(api, make_key(), body), "invalid_request", "messages[0].content[0].image_url.url")
