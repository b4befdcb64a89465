"""Roles: Operators run the gateway, Auditors only read records and never see a secret.

Every page and action is checked on the server (a 403), not only hidden from the menus.
"""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.urls import reverse

from audit import log
from audit.models import AuditEvent
from dihya.gateway.models import ApiClient, ApiKey, Generation
from fallbacks.models import BreakerState, Engine, Route
from tests.admin.conftest import form_data, make_generation

SECRET = "sk-never-shown-0123456789"


@pytest.fixture
def engine(seeded) -> Engine:
    engine = Engine.objects.get(name="first")
    engine.set_api_key(SECRET)
    engine.save()
    return engine


def test_the_migration_creates_both_groups_with_their_permissions(db):
    Group.objects.filter(name__in=["Operators", "Auditors"]).delete()
    migration = importlib.import_module("dihya.console.migrations.0001_roles")

    migration.forwards(apps, None)

    operators = set(Group.objects.get(name="Operators").permissions
                    .values_list("codename", flat=True))
    auditors = set(Group.objects.get(name="Auditors").permissions
                   .values_list("codename", flat=True))
    assert {"change_engine", "delete_route", "add_plan", "change_apiclient",
            "add_apikey", "change_routeengine"} <= operators
    assert {"view_auditevent", "view_consent", "view_generation", "view_attempt"} <= auditors
    assert not {p for p in auditors if not p.startswith("view_")}
    assert not {p for p in auditors if p.endswith(("_engine", "_apikey", "_apiclient"))}


@pytest.mark.parametrize("name", ["admin:fallbacks_engine_changelist", "admin:fallbacks_engine_add",
                                  "admin:gateway_apikey_changelist"])
def test_an_auditor_cannot_open_engine_or_key_pages(staff_in, engine, name):
    auditor = staff_in("Auditors")

    assert auditor.get(reverse(name)).status_code == 403


def test_an_auditor_cannot_open_or_post_an_engine_change_page(staff_in, engine, admin_client):
    url = reverse("admin:fallbacks_engine_change", args=[engine.pk])
    data = form_data(admin_client.get(url))
    data["model"] = "changed-by-auditor"
    auditor = staff_in("Auditors")

    assert auditor.get(url).status_code == 403
    assert auditor.post(url, data).status_code == 403
    engine.refresh_from_db()
    assert engine.model == "m"


def test_an_auditor_cannot_test_or_force_anything(staff_in, engine):
    auditor = staff_in("Auditors")
    route = Route.objects.get()

    assert auditor.post(reverse("admin:engine-test", args=[engine.pk])).status_code == 403
    assert auditor.post(reverse("admin:route-test", args=[route.pk])).status_code == 403
    response = auditor.post(reverse("admin:fallbacks_engine_changelist"),
                            {"action": "force_open", "_selected_action": [engine.pk]})
    assert response.status_code == 403
    assert not BreakerState.objects.filter(engine=engine).exists()
    assert not Generation.objects.exists()


def test_an_auditor_reads_generations_and_never_a_secret(staff_in, engine):
    client = ApiClient.objects.get()
    ApiKey.objects.create(client=client, name="ci", prefix="dk-abcd", digest="f" * 64)
    generation = make_generation(client)
    auditor = staff_in("Auditors")

    pages = [reverse("admin:index"), reverse("admin:gateway_generation_changelist"),
             reverse("admin:gateway_generation_change", args=[generation.pk]),
             reverse("admin:generation-progress", args=[generation.pk])]
    for url in pages:
        response = auditor.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert SECRET not in page and engine.api_key_encrypted not in page
        assert "f" * 64 not in page
    assert auditor.get(reverse("admin:gateway_apiclient_changelist")).status_code == 403


def test_an_operator_edits_engines_and_routes_but_not_generations(staff_in, engine):
    operator = staff_in("Operators")
    generation = make_generation()

    assert operator.get(reverse("admin:fallbacks_engine_change",
                                args=[engine.pk])).status_code == 200
    assert operator.get(reverse("admin:fallbacks_route_change",
                                args=[Route.objects.get().pk])).status_code == 200
    assert operator.get(reverse("admin:quotas_plan_add")).status_code == 200
    assert operator.get(reverse("admin:gateway_generation_change",
                                args=[generation.pk])).status_code == 200
    assert operator.get(reverse("admin:audit_auditevent_changelist")).status_code == 403


def test_an_operator_forces_a_breaker_open_from_the_engine_list_saying_why(
        staff_in, engine, django_capture_on_commit_callbacks):
    operator = staff_in("Operators")
    url = reverse("admin:fallbacks_engine_changelist")
    chosen = {"action": "force_open", "_selected_action": [engine.pk]}

    asked = operator.post(url, chosen)
    assert asked.status_code == 200 and b'name="reason"' in asked.content
    assert operator.post(url, {**chosen, "apply": "1", "reason": ""}).status_code == 200
    assert not BreakerState.objects.filter(engine=engine, state="open").exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(url, {**chosen, "apply": "1", "reason": "maintenance window"})

    assert response.status_code == 302
    engine = Engine.objects.select_related("breaker").get(pk=engine.pk)
    assert engine.breaker.state == "open" and engine.breaker.changed_by == "operators"
    event = AuditEvent.objects.get(kind="breaker_forced")
    assert event.actor == log.person("operators") and "maintenance window" in str(event.details)
