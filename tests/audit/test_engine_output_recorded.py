"""An engine answer carrying a NUL or a lone surrogate is recorded cleaned, not lost with its
generation: PostgreSQL text refuses NUL, and no UTF-8 encoder (SQLite's included) takes a lone
surrogate, so either made recording fail after the engine had answered."""

from __future__ import annotations

import json

import httpx

from audit import consent
from audit.models import AuditEvent
from dihya.gateway.models import Generation
from tests.audit.conftest import admit, reply, run


def test_it_records_an_answer_with_a_nul_and_a_lone_surrogate(settings, route, helpdesk, alice,
                                                              engine):
    settings.DIHYA_AUDIT_CONTENT = True
    consent.grant(alice)
    body = json.dumps(reply("Bon\x00jour \ud800!")).encode()  # as the JSON escapes \u0000, \ud800
    engine.mock(return_value=httpx.Response(200, content=body,
                                            headers={"content-type": "application/json"}))
    admission = admit(helpdesk)
    run(admission)

    generation = Generation.objects.get(pk=admission.generation.pk)
    assert (generation.status, generation.result) == ("succeeded", "Bonjour \ufffd!")
    assert AuditEvent.objects.get(kind="generation").details["answer"] == "Bonjour \ufffd!"
