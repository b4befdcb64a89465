"""Lawful egress through the live API: a route from a self-hosted engine to a third-party
one (a fake hosted engine recording every byte it receives). Personal data never reaches the
third party as it is, its answer comes back restored, and a policy that forbids it keeps
every byte home."""

from __future__ import annotations

import json

import httpx
import pytest

from audit import consent
from audit.models import AuditEvent
from dihya.gateway.models import ApiClient, Attempt
from dihya.generation import detection
from tests.api.fake_engine import (  # noqa: F401 - a fixture
    answer,
    call,
    call_stream,
    fake_engine,
    text_stream,
)
from tests.conftest import recorded

PROMPT = ("Bonjour, je m'appelle Marie Dupont. Écrivez-moi à marie.dupont@example.fr, "
          "virez sur FR76 3000 6000 0112 3456 7890 189 ou appelez le 06 12 34 56 78.")
PERSONAL = ["Marie Dupont", "marie.dupont@example.fr", "FR76 3000 6000 0112 3456 7890 189",
            "06 12 34 56 78", "Dupont", "3000 6000", "12 34 56"]


@pytest.fixture(scope="session")
def detector() -> None:
    """Presidio and spaCy's French model, loaded once for the session (seconds)."""
    detection.load()


@pytest.fixture
def hosted(api, detector, fake_engine, make_engine, make_route, dead_url):  # noqa: F811
    """Route `default`: a self-hosted engine that is down, then a third-party one."""
    local = make_engine(dead_url, name="llama-local", region="local")
    remote = make_engine(fake_engine.url, name="mistral-api", region="EU",
                         processor="third_party")
    make_route("default", local, remote)
    return fake_engine


def ask(api: str, key: str, **body) -> httpx.Response:
    body = {"model": "default", "messages": [{"role": "user", "content": PROMPT}]} | body
    return httpx.post(api + "/v1/chat/completions", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}"})


def leaked(engine) -> list[str]:
    sent = bytes(engine.received).decode()
    return [value for value in PERSONAL if value in sent]


def test_it_masks_personal_data_before_a_third_party_engine(api, hosted, make_key):
    hosted.reply(answer("Bien reçu <PERSON_1>, je vous écris à <EMAIL_ADDRESS_1>."))

    done = ask(api, make_key())

    assert done.status_code == 200, done.text
    assert leaked(hosted) == [] and hosted.received
    sent = hosted.requests[0]["messages"][0]["content"]
    assert "<PERSON_1>" in sent and "<EMAIL_ADDRESS_1>" in sent and "<IBAN_CODE_1>" in sent
    assert "<PHONE_NUMBER_1>" in sent
    assert done.json()["choices"][0]["message"]["content"] == (
        "Bien reçu Marie Dupont, je vous écris à marie.dupont@example.fr.")


def test_it_restores_a_streamed_answer_split_inside_placeholders(api, hosted, make_key):
    hosted.reply(text_stream("Bien reçu <PER", "SON_1>, au <PHONE_NUM", "BER_1", ">.", " <"))

    with httpx.stream("POST", api + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {make_key()}"},
                      json={"model": "default", "stream": True,
                            "messages": [{"role": "user", "content": PROMPT}]}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: {")]

    text = "".join((json.loads(line[6:])["choices"] or [{}])[0].get("delta", {}).get(
        "content") or "" for line in lines)
    assert text == "Bien reçu Marie Dupont, au 06 12 34 56 78. <"
    assert leaked(hosted) == []


def test_it_restores_tool_call_arguments(api, hosted, make_key):
    tools = [{"type": "function", "function": {
        "name": "send_mail", "description": "Écrire au responsable de Marie Dupont",
        "parameters": {"type": "object", "properties": {"to": {"type": "string"}}}}}]
    hosted.reply(answer(None, tool_calls=[call("c1", "send_mail",
                                               '{"to": "<EMAIL_ADDRESS_1>"}')],
                        finish_reason="tool_calls"))
    hosted.reply(call_stream("c2", "send_mail", '{"to": "<EMAIL_', 'ADDRESS_1>"}'))

    done = ask(api, make_key(), tools=tools)
    with httpx.stream("POST", api + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {make_key()}"},
                      json={"model": "default", "stream": True, "tools": tools,
                            "messages": [{"role": "user", "content": PROMPT}]}) as response:
        lines = [json.loads(line[6:]) for line in response.iter_lines()
                 if line.startswith("data: {")]

    called = done.json()["choices"][0]["message"]["tool_calls"][0]["function"]
    assert json.loads(called["arguments"]) == {"to": "marie.dupont@example.fr"}
    streamed = "".join(c["function"].get("arguments", "") for line in lines
                       for choice in line["choices"]
                       for c in choice.get("delta", {}).get("tool_calls") or [])
    assert json.loads(streamed) == {"to": "marie.dupont@example.fr"}
    assert leaked(hosted) == []
    assert "Marie Dupont" not in hosted.requests[0]["tools"][0]["function"]["description"]


def test_it_fails_closed_when_detection_fails(api, hosted, make_key, monkeypatch):
    def broken(texts):
        raise RuntimeError("the model is gone")

    monkeypatch.setattr(detection, "detect", broken)

    refused = ask(api, make_key())

    assert refused.status_code == 503
    assert hosted.received == bytearray()
    recorded()
    assert [a.outcome for a in Attempt.objects.order_by("id")] == [
        "connect_error", "masking_failed"]


def test_it_keeps_a_local_only_client_home(api, hosted, make_key):
    key = make_key("hr-app")
    ApiClient.objects.filter(name="hr-app").update(regions=["local"], third_party=False)

    refused = ask(api, key)

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "region_not_allowed" and "hr-app" in error["message"]
    assert hosted.received == bytearray() and hosted.requests == []
    recorded()
    assert [a.outcome for a in Attempt.objects.order_by("id")] == [
        "connect_error", "region_not_allowed"]


def test_a_person_who_has_not_agreed_to_third_parties_stays_home(api, hosted, make_key,
                                                                 django_user_model):
    key = make_key("helpdesk")
    ApiClient.objects.filter(name="helpdesk").update(end_users=True, user_ids="username")
    alice = django_user_model.objects.create_user("alice")
    consent.grant(alice)

    refused = ask(api, key, user="alice")

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "region_not_allowed"
    assert "third-party-engines" in refused.json()["error"]["message"]
    assert hosted.received == bytearray()
    consent.grant(alice, consent.THIRD_PARTY)
    assert ask(api, key, user="alice").status_code == 200
    assert leaked(hosted) == [] and hosted.received


def test_models_say_where_each_engine_processes_data(api, hosted, make_key):
    listed = httpx.get(api + "/v1/models", headers={"Authorization": f"Bearer {make_key()}"})

    assert listed.json()["data"][0]["engines"] == [
        {"region": "local", "processor": "self_hosted", "mask": False},
        {"region": "EU", "processor": "third_party", "mask": True}]


def test_the_audit_event_counts_what_was_masked_never_the_values(api, hosted, make_key):
    ask(api, make_key())
    recorded()

    event = AuditEvent.objects.get(kind="generation")
    assert event.attempts[-1]["masked"] == {"EMAIL_ADDRESS": 1, "IBAN_CODE": 1, "PERSON": 1,
                                            "PHONE_NUMBER": 1}
    assert "Dupont" not in json.dumps(event.attempts) + json.dumps(event.details)
