"""Fields newer SDKs and agents send that change nothing we do: accepted, never forwarded, and
never a reason to refuse the call; the legacy `functions` loop can finish (`role: "function"`).
"""

from __future__ import annotations

import httpx
import pytest

from dihya.gateway.models import Generation
from tests.api.fake_engine import answer, fake_engine  # noqa: F401 - a fixture

ASK = [{"role": "user", "content": "hi"}]


@pytest.fixture
def post(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake",
                                      capabilities=["chat", "tools"]))
    key = make_key()

    def post(**fields) -> httpx.Response:
        return httpx.post(api + "/v1/chat/completions", headers={
            "Authorization": f"Bearer {key}"}, json={"model": "default", "messages": ASK,
                                                     **fields})
    return post


def test_harmless_fields_are_accepted_and_not_forwarded(post, fake_engine):  # noqa: F811
    response = post(prompt_cache_key="session-42", verbosity="low", modalities=["text"],
                    safety_identifier="hashed-person-7")

    assert response.status_code == 200, response.text
    assert "X-Dihya-Dropped-Params" not in response.headers
    sent = fake_engine.requests[0]
    assert not {"prompt_cache_key", "verbosity", "modalities", "safety_identifier",
                "user"} & set(sent)
    assert Generation.objects.get().end_user == "hashed-person-7"  # it stands for the person


def test_user_and_safety_identifier_must_name_the_same_person(post):
    assert post(user="p1", safety_identifier="p1").status_code == 200
    assert Generation.objects.get().end_user == "p1"

    refused = post(user="p1", safety_identifier="p2")

    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "safety_identifier"
    assert refused.headers["x-should-retry"] == "false"


def test_an_output_modality_other_than_text_is_unsupported(post, fake_engine):  # noqa: F811
    refused = post(modalities=["text", "audio"])

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_parameter", "modalities")
    assert "text only" in error["message"]
    assert not fake_engine.requests


def test_cache_control_on_a_part_is_dropped_and_named(post, fake_engine):  # noqa: F811
    response = post(messages=[
        {"role": "system", "content": [{"type": "text", "text": "You edit code.",
                                        "cache_control": {"type": "ephemeral"}}]},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]}])

    assert response.status_code == 200, response.text
    assert response.headers["X-Dihya-Dropped-Params"] == "cache_control"
    assert "cache_control" not in str(fake_engine.requests[0]["messages"])


def test_the_legacy_functions_loop_finishes_with_a_function_message(post, fake_engine):  # noqa: F811
    functions = [{"name": "get_weather", "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}}}}]
    history = [*ASK, {"role": "assistant", "content": None, "function_call": {
        "name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"role": "function", "name": "get_weather", "content": '{"celsius": 21}'}]
    fake_engine.reply(answer("21 °C in Paris."))

    response = post(messages=history, functions=functions)

    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "21 °C in Paris."
    call, result = fake_engine.requests[0]["messages"][1:]
    assert call["tool_calls"][0]["id"] == result["tool_call_id"]
    assert (result["role"], result["content"]) == ("tool", '{"celsius": 21}')


def test_a_function_message_must_name_its_function(post):
    refused = post(messages=[*ASK, {"role": "function", "content": "21"}])

    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "messages[1].name"
