"""Nobody reaches what is not theirs: API clients see only their own jobs, routes and engines;
people only their own consents, export and erasure; an Auditor changes nothing in the admin."""

from __future__ import annotations

import json

import httpx
import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import NoReverseMatch, reverse

from audit import consent
from audit.models import Consent
from dihya import config
from dihya.console import roles as console_roles
from dihya.gateway.models import ApiClient, Generation
from fallbacks.models import Engine, Route
from quotas.models import Plan

HELLO = {"model": "mine", "messages": [{"role": "user", "content": "Say hello"}],
         "max_tokens": 8}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def two_clients(api, dead_url, make_engine, make_route, make_key):
    make_route("mine", make_engine(dead_url, name="my-engine"))
    make_route("theirs", make_engine(dead_url, name="their-engine"))
    return make_key("a", routes=["mine"]), make_key("b", routes=["theirs"])


def test_a_client_cannot_read_wait_on_or_cancel_anothers_job(api, two_clients):
    key_a, key_b = two_clients
    job = httpx.post(api + "/api/v1/generations", headers=auth(key_a), json=HELLO).json()["id"]

    for method, query in (("GET", ""), ("GET", "?wait=0.2"), ("DELETE", "")):
        response = httpx.request(method, f"{api}/api/v1/generations/{job}{query}",
                                 headers=auth(key_b))
        assert response.status_code == 404, (method, query)
        assert response.json()["error"]["code"] == "generation_not_found"
        assert job not in response.text or "No generation" in response.text
    assert Generation.objects.get().status == "queued"
    assert httpx.get(f"{api}/api/v1/generations/{job}", headers=auth(key_a)).status_code == 200


def test_a_client_lists_only_its_own_routes_and_engines_and_uses_only_those(api, two_clients):
    _, key_b = two_clients
    models = httpx.get(api + "/v1/models", headers=auth(key_b)).json()
    assert [m["id"] for m in models["data"]] == ["theirs"]
    engines = httpx.get(api + "/api/v1/engines", headers=auth(key_b)).text
    assert "their-engine" in engines and "my-engine" not in engines

    for path in ("/v1/chat/completions", "/api/v1/generations"):
        response = httpx.post(api + path, headers=auth(key_b), json=HELLO)
        assert response.status_code in (403, 404), response.text
    assert not Generation.objects.exists()


# --- people ------------------------------------------------------------------------------------

@pytest.fixture
def alice_and_bob(db, django_user_model):
    alice = django_user_model.objects.create_user("alice", password="pw-alice")
    bob = django_user_model.objects.create_user("bob", password="pw-bob")
    consent.grant(bob)
    return alice, bob


def test_a_person_cannot_withdraw_export_or_erase_anothers_data(client, alice_and_bob):
    alice, bob = alice_and_bob
    client.force_login(alice)
    purpose = Consent.objects.get(user=bob).purpose.slug

    client.post(f"/privacy/consent/{purpose}/withdraw/?user={bob.pk}", {"user": bob.pk})
    assert Consent.objects.get(user=bob).withdrawn_at is None
    export = json.loads(client.get(f"/privacy/export/?user={bob.pk}").content)
    assert "bob" not in json.dumps(export)
    client.post("/privacy/erase/", {"confirm": "yes", "user": bob.pk, "username": "bob"})

    assert not type(alice).objects.filter(username="alice").exists()
    assert type(bob).objects.filter(username="bob").exists()
    assert Consent.objects.filter(user=bob, withdrawn_at__isnull=True).count() == 1


# --- the Auditor role --------------------------------------------------------------------------

@pytest.fixture
def auditor(db, client, django_user_model):
    console_roles.ensure()
    config.apply_yaml("""
engines:
  - {name: first, provider: openai, base_url: "http://127.0.0.1:9001/v1", model: m}
routes:
  - {name: default, engines: [first]}
clients:
  - {name: app, routes: [default]}
""")
    Plan.objects.get_or_create(name="basic")
    user = django_user_model.objects.create_user("auditor", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Auditors"))
    client.force_login(user)
    return client


def admin_urls(model, obj) -> list[str]:
    meta = model._meta
    urls = [reverse(f"admin:{meta.app_label}_{meta.model_name}_add")]
    if obj is not None:
        for view in ("change", "delete"):
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}",
                                args=[obj.pk]))
    return urls


def test_an_auditor_can_change_nothing_in_the_admin(auditor):
    assert Engine.objects.exists() and Route.objects.exists() and ApiClient.objects.exists()
    before = {model: model.objects.count() for model in admin.site._registry}
    posted = 0
    for model in admin.site._registry:
        try:
            urls = admin_urls(model, model.objects.first())
        except NoReverseMatch:  # a read-only registration without add/delete views
            continue
        for url in urls:
            response = auditor.post(url, {"name": "by-auditor", "post": "yes"})
            assert response.status_code == 403, (url, response.status_code)
            posted += 1
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}"
                             "_changelist")
        response = auditor.post(changelist, {"action": "delete_selected", "post": "yes",
                                             "_selected_action": list(
                                                 model.objects.values_list("pk", flat=True))})
        # Refused (403), or the list again without the action (it is not offered to them).
        assert response.status_code in (200, 302, 403), (changelist, response.status_code)
    assert posted >= 10
    assert before == {model: model.objects.count() for model in admin.site._registry}
    assert not Engine.objects.filter(name="by-auditor").exists()
