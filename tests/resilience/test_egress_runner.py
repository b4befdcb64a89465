"""The runner's side of lawful egress, with a fake detector: engines outside the residency
policy are skipped before anything leaves and their breakers are not told; a masking engine
receives placeholders and its answer comes back restored; a detector that fails or hangs
keeps the engine uncalled."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import respx

from dihya.lib import loop
from fallbacks.masking import DeltaRestorer, Masking, Vault
from fallbacks.residency import Residency
from fallbacks.runner import RunFailed, Runner
from fallbacks.spec import ChatRequest, Delta, EngineSpec, Message, RouteSpec, ToolCallDelta
from tests.resilience.test_capabilities import Recording, said

ASK = ChatRequest(messages=(Message("user", "Écrire à ana@example.org"),), max_tokens=8)


def fake_detect(texts: list[str]) -> list[list[tuple[int, int, str]]]:
    """Finds e-mail addresses, as a word containing '@'."""
    found = []
    for text in texts:
        at = text.find("@")
        if at < 0:
            found.append([])
            continue
        start = text.rfind(" ", 0, at) + 1
        end = len(text) if text.find(" ", at) < 0 else text.find(" ", at)
        found.append([(start, end, "EMAIL_ADDRESS")])
    return found


def route(*engines: EngineSpec) -> RouteSpec:
    return RouteSpec(id=1, name="r", strategy="ordered", max_tokens=8, engines=engines)


LOCAL = EngineSpec(id=1, name="local", provider="openai", base_url="http://local/v1", model="m")
HOSTED = EngineSpec(id=2, name="hosted", provider="openai", base_url="http://hosted/v1",
                    model="m", region="US", third_party=True, mask=True)


@respx.mock
def test_a_local_only_policy_never_calls_the_hosted_engine_nor_blames_it():
    respx.post("http://local/v1/chat/completions").mock(return_value=httpx.Response(500))
    hosted = respx.post("http://hosted/v1/chat/completions").mock(return_value=said("hi"))
    health = Recording()
    policy = Residency(regions=frozenset({"local"}), named="client 'hr'")

    with pytest.raises(RunFailed) as failed:
        loop.run(Runner(health, masking=Masking(fake_detect)).run(
            route(LOCAL, HOSTED), ASK, residency=policy))

    assert failed.value.code == "region_not_allowed" and "client 'hr'" in str(failed.value)
    assert not hosted.called
    assert [name for name, _ in health.told] == ["local", "local"]  # retried, hosted untold


@respx.mock
def test_the_hosted_engine_gets_placeholders_and_the_client_the_values():
    hosted = respx.post("http://hosted/v1/chat/completions").mock(
        return_value=said("Envoyé à <EMAIL_ADDRESS_1>"))

    result = loop.run(Runner(masking=Masking(fake_detect)).run(route(HOSTED), ASK))

    sent = json.loads(hosted.calls[0].request.content)
    assert sent["messages"][0]["content"] == "Écrire à <EMAIL_ADDRESS_1>"
    assert result.completion.text == "Envoyé à ana@example.org"
    assert result.attempts[-1].masked == {"EMAIL_ADDRESS": 1}


@respx.mock
def test_a_detector_that_hangs_keeps_the_engine_uncalled():
    hosted = respx.post("http://hosted/v1/chat/completions").mock(return_value=said("hi"))
    respx.post("http://local/v1/chat/completions").mock(return_value=said("local"))

    def hangs(texts: list[str]) -> list[list[tuple[int, int, str]]]:
        time.sleep(0.5)
        return fake_detect(texts)

    result = loop.run(Runner(masking=Masking(hangs, timeout=0.05)).run(route(HOSTED, LOCAL),
                                                                        ASK))

    assert not hosted.called and result.engine.name == "local"
    assert (result.attempts[0].outcome, result.attempts[0].detail) == (
        "masking_failed", "detection took more than 0.05 s")


@respx.mock
def test_without_a_detector_a_masking_engine_is_never_called():
    hosted = respx.post("http://hosted/v1/chat/completions").mock(return_value=said("hi"))

    with pytest.raises(RunFailed):
        loop.run(Runner().run(route(HOSTED), ASK))

    assert not hosted.called


def test_a_placeholder_split_anywhere_is_restored_whole():
    vault = Vault()
    vault.mask("ana@example.org", [(0, 15, "EMAIL_ADDRESS")])
    restorer = DeltaRestorer(vault, ASK)
    pieces = ["Hi <", "EMAIL_ADD", "RESS_1", "> and <b>", " bye <"]

    out = [restorer.delta(Delta(text=p)).text for p in pieces]
    out.append(restorer.delta(Delta(finish_reason="stop")).text)

    assert "".join(out) == "Hi ana@example.org and <b> bye <"
    assert out[1] == "" and out[2] == ""  # held back while it could be a placeholder


def test_tool_call_arguments_are_restored_as_json():
    vault = Vault()
    vault.mask('Jo "J" Doe', [(0, 10, "PERSON")])
    restorer = DeltaRestorer(vault, ASK)

    first = restorer.delta(Delta(tool_calls=(ToolCallDelta(0, arguments='{"to": "<PER'),)))
    last = restorer.delta(Delta(tool_calls=(ToolCallDelta(0, arguments='SON_1>"}'),),
                                finish_reason="tool_calls"))

    arguments = "".join(c.arguments for d in (first, last) for c in d.tool_calls)
    assert json.loads(arguments) == {"to": 'Jo "J" Doe'}


def test_a_masking_language_without_its_model_is_a_system_check_error(settings):
    from django.core.checks import run_checks

    settings.DIHYA_MASK_LANGUAGES = ["fr", "xx"]

    errors = [m for m in run_checks() if m.id == "dihya.E020"]

    assert len(errors) == 1 and "'xx'" in errors[0].msg
