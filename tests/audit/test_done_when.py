"""The issue's "done when", over HTTP: refused without consent, granted on /privacy/, then
served; the admin sees the pseudonymous event; the person downloads and erases; chain holds."""

from __future__ import annotations

import json

from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from dihya.gateway import keys
from dihya.lib.pseudonyms import pseudonym


def chat(key: str, user: str | None = "alice"):
    body = {"model": "default", "messages": [{"role": "user", "content": "Write to bob@x.org"}]}
    if user:
        body["user"] = user
    return Client().post("/v1/chat/completions", json.dumps(body),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_an_end_users_call_needs_consent_given_on_the_privacy_page(route, helpdesk, alice,
                                                                   engine, capsys):
    helpdesk.routes.add(route)
    key = keys.issue(helpdesk)[1]

    refused = chat(key)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "consent_required" and error["consent_url"] == "/privacy/"  # signs in
    assert chat(key, user=None).json()["error"]["code"] == "consent_required"
    assert not engine.called

    person = Client()
    person.post("/accounts/login/", {"username": "alice", "password": "correct horse battery"})
    assert person.post("/privacy/consent/generation/grant/").status_code == 302

    served = chat(key)
    assert served.status_code == 200, served.content
    assert served.json()["choices"][0]["message"]["content"].startswith("Bonjour")

    event = AuditEvent.objects.get(kind="generation")
    assert event.subject == pseudonym("alice") and event.client == "helpdesk"
    assert [a["engine"] for a in event.attempts][-1] == "fake"

    export = json.loads(person.get("/privacy/export/").content)
    assert len(export["generations"]) == 1
    person.post("/privacy/erase/", {"confirm": "yes"})

    assert chat(key).json()["error"]["code"] == "consent_required"
    call_command("audit", "verify")
    assert "audit chain ok" in capsys.readouterr().out
