"""Configuration changes land in the audit log: who, what, before and after, secrets masked,
once each — whether made in the admin or by `config apply`."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse

from audit import log
from audit.models import AuditEvent
from dihya import config
from dihya.gateway.models import ApiClient
from fallbacks.models import Engine, Route
from tests.admin.conftest import SEED, form_data, roles, staff_in

__all__ = ["roles", "staff_in"]  # fixtures shared with the admin tests

SECRET = "sk-audit-test-0123456789"


SINCE = {"pk": 0}


def changes() -> list[AuditEvent]:
    """The changes recorded since the test's own setup."""
    return list(AuditEvent.objects.filter(kind="config_change", pk__gt=SINCE["pk"])
                .order_by("pk"))


def start_here() -> None:
    SINCE["pk"] = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


@pytest.fixture
def seeded(db) -> None:
    config.apply_yaml(SEED)
    start_here()


def post_change(admin_client, name: str, obj, edit) -> object:
    url = reverse(f"admin:{name}_change", args=[obj.pk])
    data = form_data(admin_client.get(url))
    edit(data)
    return admin_client.post(url, data)


def test_it_records_an_admin_edit_of_an_engine(admin_client, seeded,
                                                django_capture_on_commit_callbacks):
    engine = Engine.objects.get(name="first")

    with django_capture_on_commit_callbacks(execute=True):
        response = post_change(admin_client, "fallbacks_engine", engine,
                               lambda d: d.update(api_key=SECRET, max_concurrency="2"))

    assert response.status_code == 302
    (event,) = changes()
    assert event.actor == log.person("admin")
    assert (event.engine, event.status) == ("first", "updated")
    assert event.details == {"object": "engine", "name": "first", "action": "updated",
                             "via": "admin", "before": {},
                             "after": {"api_key": "stored", "max_concurrency": 2}}
    assert SECRET not in json.dumps(event.details)
    engine.refresh_from_db()
    assert engine.api_key_encrypted not in json.dumps(event.details)


def test_it_notes_a_replaced_key_without_showing_it(admin_client, seeded,
                                                     django_capture_on_commit_callbacks):
    engine = Engine.objects.get(name="first")
    with django_capture_on_commit_callbacks(execute=True):
        engine.set_api_key("sk-old-key-000")
        engine.save()
    start_here()

    with django_capture_on_commit_callbacks(execute=True):
        post_change(admin_client, "fallbacks_engine", engine,
                    lambda d: d.update(api_key=SECRET))

    (event,) = changes()
    assert (event.details["before"], event.details["after"]) == (
        {"api_key": "stored"}, {"api_key": "stored (replaced)"})


def test_it_records_a_route_reorder_as_one_change(admin_client, seeded,
                                                  django_capture_on_commit_callbacks):
    route = Route.objects.get(name="default")

    def reorder(data: dict) -> None:
        ids = {str(e.pk): e.name for e in route.engines.all()}
        wanted = ["third", "first", "second"]
        for i in range(3):
            data[f"steps-{i}-position"] = str(wanted.index(ids[data[f"steps-{i}-engine"]]) + 1)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_change(admin_client, "fallbacks_route", route, reorder)

    assert response.status_code == 302
    (event,) = changes()
    assert (event.route, event.actor) == ("default", log.person("admin"))
    assert event.details["before"] == {"engines": ["first", "second", "third"]}
    assert event.details["after"] == {"engines": ["third", "first", "second"]}


def test_it_records_a_client_losing_a_route(admin_client, seeded,
                                            django_capture_on_commit_callbacks):
    client = ApiClient.objects.get(name="app")

    with django_capture_on_commit_callbacks(execute=True):
        post_change(admin_client, "gateway_apiclient", client, lambda d: d.pop("routes"))

    (event,) = changes()
    assert event.details["before"] == {"routes": ["default"]}
    assert event.details["after"] == {"routes": []}


def test_it_records_nothing_of_a_rolled_back_edit(seeded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            engine = Engine.objects.get(name="first")
            engine.notes = "never saved for good"
            engine.save()
            raise RuntimeError

        second = Engine.objects.get(name="second")
        second.notes = "kept"
        second.save()

    (event,) = changes()
    assert (event.engine, event.details["after"]) == ("second", {"notes": "kept"})


def test_config_apply_records_each_change_once(seeded, tmp_path):
    path = tmp_path / "dihya.yaml"
    path.write_text(SEED.replace("model: m}", "model: m, max_concurrency: 1}", 1)
                    + "  - {name: other, routes: [default]}\n")

    call_command("config", "apply", str(path), stdout=StringIO())

    events = changes()
    assert [(e.details["object"], e.details["name"], e.status) for e in events] == [
        ("engine", "first", "updated"), ("client", "other", "created")]
    assert all(e.actor.startswith("config apply (") for e in events)
    assert {e.details["via"] for e in events} == {"config apply"}
    assert events[0].details["before"] == {}
    assert events[0].details["after"] == {"max_concurrency": 1}

    call_command("config", "apply", str(path), stdout=StringIO())

    assert len(changes()) == 2


def test_the_chain_still_verifies(admin_client, seeded, tmp_path,
                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        post_change(admin_client, "fallbacks_engine", Engine.objects.get(name="second"),
                    lambda d: d.update(notes="changed"))
    (tmp_path / "c.yaml").write_text("routes: [{name: extra, engines: [first]}]\n")
    call_command("config", "apply", str(tmp_path / "c.yaml"), stdout=StringIO())
    assert len(changes()) == 2

    out = StringIO()
    call_command("audit", "verify", stdout=out)

    assert out.getvalue().startswith("audit chain ok")


def test_it_knows_when_a_rollback_dropped_its_commit_callback(db):
    # Pins recorder.still_pending, the one read of Django's private run_on_commit list.
    from django.db import connection, transaction

    from dihya.config.recorder import still_pending

    def callback() -> None:
        return None

    with transaction.atomic():
        try:
            with transaction.atomic():
                transaction.on_commit(callback)
                assert still_pending(connection, callback)
                raise RuntimeError("roll back the inner block")
        except RuntimeError:
            pass
        assert not still_pending(connection, callback)


# --- Engine keys: who changed the variable, and a stored key cleared by a new host -----------

@pytest.fixture
def operator(seeded, staff_in):
    """A test client logged in as `operators`, a member of Operators (may edit engines, is not
    a superuser)."""
    return staff_in("Operators")


def test_it_records_who_changed_the_key_variable(operator, django_capture_on_commit_callbacks):
    engine = Engine.objects.get(name="third")

    with django_capture_on_commit_callbacks(execute=True):
        response = post_change(operator, "fallbacks_engine", engine,
                               lambda d: d.update(api_key_env="DIHYA_ENGINE_KEY_OTHER"))

    assert response.status_code == 302
    (event,) = changes()
    assert (event.actor, event.engine, event.status) == (
        log.person("operators"), "third", "updated")
    assert event.details["before"] == {"api_key_env": "DIHYA_ENGINE_KEY_MISTRAL"}
    assert event.details["after"] == {"api_key_env": "DIHYA_ENGINE_KEY_OTHER"}


def test_a_refused_key_variable_records_nothing(operator, django_capture_on_commit_callbacks):
    engine = Engine.objects.get(name="third")

    with django_capture_on_commit_callbacks(execute=True):
        response = post_change(operator, "fallbacks_engine", engine,
                               lambda d: d.update(api_key_env="SECRET_KEY"))

    assert response.status_code == 200
    assert changes() == []


def test_it_records_a_key_cleared_by_a_new_host(operator, django_capture_on_commit_callbacks):
    engine = Engine.objects.get(name="first")
    with django_capture_on_commit_callbacks(execute=True):
        engine.set_api_key(SECRET)
        engine.save()
    start_here()

    with django_capture_on_commit_callbacks(execute=True):
        post_change(operator, "fallbacks_engine", engine,
                    lambda d: d.update(base_url="https://evil.example/v1"))

    (event,) = changes()
    assert event.actor == log.person("operators")
    # (the address itself is redacted from audit text: "http://[ip]:9001/v1")
    assert event.details["before"] == {"base_url": event.details["before"]["base_url"],
                                       "api_key": "stored"}
    assert event.details["after"] == {"base_url": "https://evil.example/v1"}
    assert SECRET not in json.dumps(event.details)


def test_config_apply_records_a_key_cleared_by_a_new_host(seeded, tmp_path,
                                                          django_capture_on_commit_callbacks):
    engine = Engine.objects.get(name="first")
    with django_capture_on_commit_callbacks(execute=True):
        engine.set_api_key(SECRET)
        engine.save()
    start_here()
    path = tmp_path / "dihya.yaml"
    path.write_text(SEED.replace("http://127.0.0.1:9001/v1", "https://evil.example/v1"))

    call_command("config", "apply", str(path), stdout=StringIO())

    (event,) = changes()
    assert event.actor.startswith("config apply (") and event.details["via"] == "config apply"
    # (the address itself is redacted from audit text: "http://[ip]:9001/v1")
    assert event.details["before"] == {"base_url": event.details["before"]["base_url"],
                                       "api_key": "stored"}
    assert event.details["after"] == {"base_url": "https://evil.example/v1"}
