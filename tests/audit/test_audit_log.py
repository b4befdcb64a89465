"""The audit log: one event per generation with its fallbacks, pseudonymous, redacted, and a
hash chain that catches edited and deleted rows but survives erasure of personal content."""

from __future__ import annotations

import httpx
import pytest
from django.core.management import CommandError, call_command

from audit import consent, log
from audit.models import AuditEvent
from dihya.generation import pipeline
from dihya.generation.requests import ChatBody
from dihya.lib.pseudonyms import pseudonym
from tests.audit.conftest import SECRET_PROMPT, admit, reply, run


@pytest.fixture
def generated(route, helpdesk, alice, engine):
    consent.grant(alice)
    admission = admit(helpdesk, content=SECRET_PROMPT)
    run(admission)
    return admission.generation


def test_it_records_the_generation_with_its_fallback_attempts(generated):
    event = AuditEvent.objects.get(kind="generation")

    assert event.subject == pseudonym("alice")
    assert (event.client, event.route, event.engine, event.status) == (
        "helpdesk", "default", "fake", "succeeded")
    outcomes = [(a["engine"], a["outcome"]) for a in event.attempts]
    assert outcomes == [(a.engine_name, a.outcome) for a in generated.attempts.order_by("id")]
    assert outcomes[0] == ("down", "server_error") and outcomes[-1] == ("fake", "ok")
    assert all(isinstance(a["latency_ms"], float) for a in event.attempts)
    assert (event.prompt_tokens, event.completion_tokens) == (7, 3)
    assert event.generation_id == generated.pk


def test_it_stores_no_prompt_by_default(generated):
    stored = str(list(AuditEvent.objects.values()))
    assert "4111" not in stored and "alice" not in stored.lower()


def test_it_stores_redacted_content_when_asked(settings, route, helpdesk, alice, engine):
    settings.DIHYA_AUDIT_CONTENT = True
    consent.grant(alice)
    run(admit(helpdesk, content=SECRET_PROMPT))

    details = AuditEvent.objects.get(kind="generation").details
    assert details["prompt"] == ["My card is [card], mail me at [email]"]
    assert details["answer"] == "Bonjour! You said: My card is [card], mail me at [email]"


def test_it_redacts_whatever_a_caller_records(db):
    event = log.record("quota_block", details={"note": "call +33 6 12 34 56 78 from 10.0.0.7"})
    assert event.details == {"note": "call [phone] from [ip]"}


def test_verify_passes_on_an_intact_chain_and_after_erasure(generated, capsys):
    log.record("other", subject="p_x", details={"a": 1})
    log.erase_subjects([AuditEvent.objects.get(kind="generation").person])

    assert AuditEvent.objects.filter(erased__isnull=False).exists()
    call_command("audit", "verify")
    assert "audit chain ok" in capsys.readouterr().out


def test_verify_catches_an_edited_row(db):
    events = [log.record("x", details={"n": n}) for n in range(4)]
    AuditEvent.objects.filter(pk=events[2].pk).update(details={"n": 99})

    checked, broken = log.verify()
    assert checked == 2
    assert broken.event_id == events[2].pk
    with pytest.raises(CommandError, match=f"event #{events[2].pk}"):
        call_command("audit", "verify")


def test_verify_catches_a_deleted_row(db):
    events = [log.record("x", details={"n": n}) for n in range(4)]
    AuditEvent.objects.filter(pk=events[1].pk).delete()

    assert log.verify()[1].event_id == events[2].pk


def test_verify_catches_a_deleted_last_row(db):
    events = [log.record("x") for _ in range(3)]
    AuditEvent.objects.filter(pk=events[-1].pk).delete()

    assert log.verify()[1].event_id is None


def test_verify_catches_a_row_rechained_without_its_digest(db):
    events = [log.record("x", status="ok") for _ in range(3)]
    AuditEvent.objects.filter(pk=events[1].pk).update(status="failed",
                                                      content_digest="0" * 64)
    assert log.verify()[1].event_id == events[1].pk


def test_a_refused_admission_is_audited_outside_its_rolled_back_transaction(route, helpdesk,
                                                                           alice, engine):
    from dihya.generation.errors import Refusal

    with pytest.raises(Refusal):
        admit(helpdesk)

    event = AuditEvent.objects.get(kind="consent_refused")
    assert (event.subject, event.client, event.status) == (pseudonym("alice"), "helpdesk",
                                                           "consent_required")


def test_tool_arguments_and_results_are_content_redacted_alike(settings, route, helpdesk, alice,
                                                               engine):
    settings.DIHYA_AUDIT_CONTENT = True
    consent.grant(alice)
    answer = reply("")
    answer["choices"][0]["message"]["tool_calls"] = [{
        "id": "call_2", "type": "function",
        "function": {"name": "mail", "arguments": '{"to": "alice.martin@example.org"}'}}]
    engine.mock(return_value=httpx.Response(200, json=answer))
    body = ChatBody(model="default", user="alice", messages=[
        {"role": "user", "content": "Mail me"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "card", "arguments": '{"n": "4111 1111 1111 1111"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "alice.martin@example.org"}])
    run(pipeline.admit(pipeline.Caller(client=helpdesk), body))

    details = AuditEvent.objects.get(kind="generation").details
    stored = str(details)
    assert "4111" not in stored and "alice.martin" not in stored
    assert details["prompt"][2] == "[email]"
    assert details["prompt_tool_calls"][0]["arguments"] == '{"n": "[card]"}'
    assert details["tool_calls"][0]["arguments"] == '{"to": "[email]"}'
