"""Request log lines and the crash handler name the route template, never the path: a path
holds people's ids and consent-link tokens, and erasure cannot reach a log."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from dihya.api import people
from dihya.gateway import keys
from dihya.gateway.models import ApiClient

MARKER = "zoe-Q81-marker"


@pytest.fixture
def key(db) -> str:
    client = ApiClient.objects.create(name="crm", end_users=True)
    return keys.issue(client, scopes=frozenset({"people", "consent"}))[1]


def test_djangos_request_log_names_the_route_not_the_person(key, caplog):
    caplog.set_level(logging.INFO)

    answer = Client().post(f"/api/v1/people/{MARKER}/export",
                           HTTP_AUTHORIZATION=f"Bearer {key}")
    Client().get(f"/privacy/link/{MARKER}-token/")

    assert answer.status_code == 404
    assert MARKER not in caplog.text
    assert "people/<user>/export" in caplog.text or "people/{user}/export" in caplog.text
    assert "/privacy/link/<str:token>/" in caplog.text


def test_the_crash_handler_names_the_route_not_the_person(key, caplog, monkeypatch):
    def broken(token: str, user: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(people, "export", broken)

    answer = Client().post(f"/api/v1/people/{MARKER}/export",
                           HTTP_AUTHORIZATION=f"Bearer {key}")

    assert answer.status_code == 500 and answer.json()["error"]["code"] == "internal_error"
    assert "unhandled error in POST" in caplog.text and "boom" in caplog.text
    assert MARKER not in caplog.text
