"""What an embeddings call leaves about a person: its inputs are content like prompts —
redacted in the audit event, in the person's export, and gone after their erasure — and its
vectors are stored nowhere."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from audit import consent
from audit.models import AuditEvent
from dihya.gateway.models import Generation
from dihya.generation import pipeline
from dihya.generation.errors import Refusal
from dihya.generation.requests import EmbeddingBody
from dihya.privacy import erasure
from tests.audit.conftest import ENGINE, SECRET_PROMPT, run
from tests.audit.test_erasure import holding

VECTOR = [0.25, -0.5, 0.125]


@pytest.fixture
def embedder():
    """An embedding engine that answers one vector per input, and says it used 9 tokens."""
    def answer(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["input"]
        return httpx.Response(200, json={
            "object": "list", "model": "e5",
            "data": [{"object": "embedding", "index": i, "embedding": VECTOR}
                     for i in range(len(inputs))],
            "usage": {"prompt_tokens": 9, "total_tokens": 9}})

    with respx.mock(assert_all_called=False) as mock:
        yield mock.post(f"{ENGINE}/embeddings").mock(side_effect=answer)


@pytest.fixture
def embed_route(make_engine, make_route):
    return make_route("embed", make_engine(ENGINE, name="embedder", model="e5",
                                           capabilities=["embeddings"]))


def admit(client, user: str = "alice", *inputs: str) -> pipeline.Admission:
    body = EmbeddingBody(model="embed", input=list(inputs or [SECRET_PROMPT, "Hello"]),
                         user=user)
    return pipeline.admit(pipeline.Caller(client=client), body)


def test_the_audit_event_holds_the_inputs_redacted_and_no_vector(settings, embed_route,
                                                                  helpdesk, alice, embedder):
    settings.DIHYA_AUDIT_CONTENT = True
    consent.grant(alice)

    run(admit(helpdesk))

    event = AuditEvent.objects.get(kind="generation")
    assert event.details["prompt"] == ["My card is [card], mail me at [email]", "Hello"]
    assert event.details["answer"] == "2 vectors of 3 dimensions"
    assert event.details["kind"] == "embeddings"
    assert (event.prompt_tokens, event.completion_tokens, event.engine) == (9, 0, "embedder")
    assert "0.125" not in json.dumps(event.details)
    assert "0.125" not in json.dumps(Generation.objects.values("request", "result").get())


def test_no_consent_no_embeddings_and_no_engine_call(embed_route, helpdesk, alice, embedder):
    with pytest.raises(Refusal) as caught:
        admit(helpdesk)

    assert caught.value.code == "consent_required" and caught.value.param == "user"
    assert not embedder.called and not Generation.objects.exists()
    assert AuditEvent.objects.filter(kind="consent_refused").count() == 1


def test_the_export_has_the_inputs_and_erasure_removes_them(settings, embed_route, helpdesk,
                                                            alice, embedder):
    settings.DIHYA_AUDIT_CONTENT = True
    consent.grant(alice)
    run(admit(helpdesk))

    exported = erasure.export(alice)["generations"]
    assert [(g["kind"], g["request"]["inputs"]) for g in exported] == [
        ("embeddings", [SECRET_PROMPT, "Hello"])]
    assert holding("4111")  # found before

    erasure.erase(alice, by="self")

    assert holding("4111", "alice.martin", "[card]") == []
    assert not Generation.objects.exists()
