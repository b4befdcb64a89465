"""Fixtures for people: a client that serves end users and names them by its own ids."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dihya.gateway import keys
from dihya.gateway.models import ApiClient
from tests.audit.conftest import engine, route  # noqa: F401 - the faked engine and its route


@pytest.fixture
def crm(db, route) -> ApiClient:  # noqa: F811
    client = ApiClient.objects.create(name="crm", end_users=True)
    client.routes.add(route)
    return client


@pytest.fixture
def crm_key(crm) -> str:
    return keys.issue(crm, scopes=frozenset({"chat", "jobs", "consent", "people"}))[1]


def chat(key: str, user: str | None = "zoe", content: str = "Say hello"):
    body = {"model": "default", "messages": [{"role": "user", "content": content}]}
    if user is not None:
        body["user"] = user
    return Client().post("/v1/chat/completions", json.dumps(body),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


def api(key: str, method: str, path: str, body: dict | None = None):
    call = getattr(Client(), method)
    if body is None:
        return call(path, HTTP_AUTHORIZATION=f"Bearer {key}")
    return call(path, json.dumps(body), content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {key}")


def link_path(url: str) -> str:
    assert "/privacy/link/" in url
    return url[url.index("/privacy/link/"):]


def agree(browser: Client, url: str, answer: str = "agree"):
    """Open the link and answer, as a person would (CSRF included)."""
    page = browser.get(link_path(url))
    assert page.status_code == 200, page.content
    version = page.context["purpose"].version
    return browser.post(link_path(url), {"answer": answer, "version": version,
                                         "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})
