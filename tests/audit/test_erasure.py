"""Erasure: after it, no table holds the person's identifiers or prompts; a receipt remains."""

from __future__ import annotations

import httpx
import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import models
from django.test import Client
from django_q.models import OrmQ, Task
from django_q.signing import SignedPackage

from audit import consent, log
from audit.models import AuditEvent, Consent, ErasureReceipt, ExternalIdentity
from dihya.gateway.models import Generation
from dihya.lib.pseudonyms import pseudonym
from dihya.privacy import erasure
from tests.audit.conftest import SECRET_PROMPT, admit, reply, run

TEXT = (models.CharField, models.TextField, models.JSONField)


def holding(*needles: str) -> list[str]:
    """Every model field, in every table, whose text contains one of the needles."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if not isinstance(field, TEXT):
                continue
            for needle in needles:
                if model._default_manager.filter(**{f"{field.name}__icontains": needle}).exists():
                    found.append(f"{model._meta.label}.{field.name} ~ {needle}")
    return found


@pytest.fixture
def history(route, helpdesk, alice, make_user, engine, settings):
    """Alice and Bob each used the helpdesk; Alice's stored task and queued task exist."""
    settings.DIHYA_AUDIT_CONTENT = True
    ExternalIdentity.objects.create(user=alice, external_id="crm-4711")
    bob = make_user("bob")
    for person, user, content in [(alice, "alice", SECRET_PROMPT), (alice, "crm-4711", "Hi"),
                                  (bob, "bob", "Bob asks about his 4242 order")]:
        consent.grant(person)
        run(admit(helpdesk, user=user, content=content))
    queued = admit(helpdesk, user="alice", queued=True).generation
    done = Generation.objects.filter(user=alice, status="succeeded").first()
    Task.objects.create(id="a" * 32, name=f"generation {done.pk}",
                        func="dihya.tasks.run_generation", args=(str(done.pk),),
                        result="succeeded", started=done.created, stopped=done.created,
                        success=True)
    OrmQ.objects.create(key="dihya", payload=SignedPackage.dumps(
        {"id": "b" * 32, "name": f"generation {queued.pk}",
         "func": "dihya.tasks.run_generation", "args": (str(queued.pk),), "kwargs": {}}))
    OrmQ.objects.create(key="dihya", payload=SignedPackage.dumps(
        {"id": "c" * 32, "name": "someone else", "func": "x", "args": ("other",), "kwargs": {}}))
    return alice, bob


def test_nothing_of_the_person_remains_but_the_receipt(history):
    alice, _ = history
    ids = [str(i) for i in erasure.person(alice).generation_ids]
    needles = ["alice", "crm-4711", "Martin", pseudonym("alice"), pseudonym("crm-4711"),
               "4111", "alice.martin", *ids]
    assert holding("alice", "crm-4711")  # the search does find them before

    receipt = erasure.erase(alice, by="self")

    assert holding(*needles) == [], holding(*needles)
    assert not Task.objects.filter(name__in=[f"generation {i}" for i in ids]).exists()
    assert OrmQ.objects.count() == 1  # someone else's task stays
    assert receipt.counts["generations"] == 3
    assert receipt.counts["account"] == 1
    assert ErasureReceipt.objects.get() == receipt
    assert Consent.objects.filter(receipt=receipt, user=None).count() == 1
    event = AuditEvent.objects.filter(kind="erasure").get()
    assert event.details["counts"] == receipt.counts and event.subject == ""
    assert log.verify()[1] is None


def test_it_leaves_everyone_else_alone(history):
    alice, bob = history
    erasure.erase(alice, by="self")

    assert Generation.objects.filter(user=bob).count() == 1
    assert consent.is_active(bob)
    assert AuditEvent.objects.filter(subject=pseudonym("bob")).count() == 2
    assert get_user_model().objects.filter(username="bob").exists()


def test_the_purge_command_erases_by_username_or_external_id(history, capsys):
    call_command("purge", "--user", "crm-4711")

    assert "receipt" in capsys.readouterr().out
    assert not get_user_model().objects.filter(username="alice").exists()
    assert holding("crm-4711", pseudonym("alice")) == []


def test_the_admin_asks_before_erasing_a_person(history, make_user):
    alice, _ = history
    make_user("root", is_staff=True, is_superuser=True)
    admin = Client()
    admin.login(username="root", password="correct horse battery")
    data = {"action": "erase_person", "_selected_action": [alice.pk]}

    page = admin.post("/admin/auth/user/", data)
    assert page.status_code == 200
    assert b"Erase these people?" in page.content and b"3 generations" in page.content
    assert get_user_model().objects.filter(username="alice").exists()

    admin.post("/admin/auth/user/", {**data, "confirm": "yes"})
    assert not get_user_model().objects.filter(username="alice").exists()
    assert ErasureReceipt.objects.get().by == "admin"


def test_other_apps_plug_into_export_and_erasure(alice):
    erased: list[frozenset[str]] = []
    erasure.register("test_usage", collect=lambda p: {"calls": 3},
                     erase=lambda p: erased.append(p.pseudonyms) or 1)
    try:
        assert erasure.export(alice)["test_usage"] == {"calls": 3}
        receipt = erasure.erase(alice, by="self")
    finally:
        erasure._PLUGINS.pop("test_usage")

    assert erased == [frozenset({pseudonym("alice")})]
    assert receipt.counts["test_usage"] == 1


def test_erasing_a_person_named_like_a_system_actor_leaves_the_system_events(make_user):
    # Issue 14 #9: actors were matched by exact name, so erasing the user "admin" blanked every
    # system event whose actor happens to be "admin", and missed what the person did.
    from audit.models import AuditEvent
    from dihya.config import recorder

    person = make_user("admin")
    by_system = log.record("erasure", actor="admin", details={"receipt": "r1"})  # by="admin"
    by_person = log.record("config_change", actor=log.person("admin"), details={"x": 1})
    legacy = log.record("config_change", actor="admin:admin", details={"x": 2})
    assert recorder.actor().startswith("process")  # no request: a process, not a person

    erasure.erase(person, by="self")

    assert AuditEvent.objects.get(pk=by_system.pk).actor == "admin"
    assert AuditEvent.objects.get(pk=by_person.pk).actor == ""
    assert AuditEvent.objects.get(pk=legacy.pk).actor == ""
    assert log.verify()[1] is None


def test_erasure_and_retention_reach_the_sign_in_records(alice, settings):
    import datetime as dt

    from axes.models import AccessAttempt, AccessLog
    from django.utils import timezone

    from fallbacks.models import BreakerState, Engine

    AccessAttempt.objects.create(username="alice", ip_address="192.0.2.7", user_agent="ua",
                                 failures_since_start=2)
    AccessLog.objects.create(username="alice", ip_address="192.0.2.7", user_agent="ua")
    old = AccessLog.objects.create(username="carol", ip_address="192.0.2.8", user_agent="ua")
    AccessLog.objects.filter(pk=old.pk).update(attempt_time=timezone.now() - dt.timedelta(days=90))
    engine = Engine.objects.create(name="e", provider="openai", base_url="http://e.test/v1",
                                   model="m")
    BreakerState.objects.create(engine=engine, changed_by="alice")

    exported = erasure.export(alice)["sign_in_records"]
    assert {r["kind"] for r in exported} == {"accessattempt", "accesslog"}
    receipt = erasure.erase(alice, by="self")

    assert receipt.counts["sign_in_records"] == 2
    assert not AccessAttempt.objects.filter(username="alice").exists()
    assert BreakerState.objects.get(engine=engine).changed_by == ""
    assert erasure.purge_expired({"sign_in": 30})["sign_in_records"] == 1
    assert not AccessLog.objects.exists()


def test_tool_calls_are_exported_and_erased_with_the_person(route, helpdesk, alice, engine):
    consent.grant(alice)
    answer = reply("")
    answer["choices"][0]["message"]["tool_calls"] = [{
        "id": "call_9", "type": "function",
        "function": {"name": "lookup", "arguments": '{"who": "tool-secret-77"}'}}]
    engine.mock(return_value=httpx.Response(200, json=answer))
    run(admit(helpdesk, content="Look me up"))

    exported = erasure.export(alice)["generations"][0]
    assert exported["tool_calls"][0]["arguments"] == '{"who": "tool-secret-77"}'
    erasure.erase(alice, by="self")
    assert holding("tool-secret-77") == []
