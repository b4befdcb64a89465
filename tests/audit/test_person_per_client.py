"""Two people with the same id at two clients are two people in the audit log too: exports and
erasures select events by person (client and id), never by the raw id. Events written before
migration 0006 get their person from what the chain covers, and the chain still verifies."""

from __future__ import annotations

import json
import secrets
import uuid

from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from audit import log
from audit.models import AuditEvent, ExternalIdentity
from dihya.gateway import keys
from dihya.gateway.models import ApiClient
from dihya.privacy import erasure
from tests.audit.test_chain_migration import migrate
from tests.people.conftest import agree, chat

BEFORE = [("audit", "0005_sso")]


def person_of(client: ApiClient, key: str, user: str = "42", content: str = "Hello"):
    """The person `user` names at `client`, after they agreed and were served once."""
    agree(Client(), chat(key, user)
          .json()["error"]["consent_url"])
    assert chat(key, user, content=content).status_code == 200
    return ExternalIdentity.objects.get(client_id=client.pk, external_id=user).user


def clients(route) -> list[tuple[ApiClient, str]]:
    made = []
    for name in ("shop", "clinic"):
        client = ApiClient.objects.create(name=name, end_users=True)
        client.routes.add(route)
        made.append((client, keys.issue(client)[1]))
    return made


def test_an_export_holds_only_the_events_of_that_person_at_that_client(route, engine,
                                                                         settings):
    settings.DIHYA_AUDIT_CONTENT = True
    (shop, shop_key), (clinic, clinic_key) = clients(route)
    shoppers_42 = person_of(shop, shop_key)
    person_of(clinic, clinic_key, content="HIV test result: negative")

    events = erasure.export(shoppers_42)["audit_events"]

    assert events and {e["client"] for e in events} <= {"shop", ""}
    assert "HIV" not in json.dumps(events)


def test_an_erasure_leaves_the_other_clients_person_with_the_same_id_alone(route, engine,
                                                                          settings):
    settings.DIHYA_AUDIT_CONTENT = True
    (shop, shop_key), (clinic, clinic_key) = clients(route)
    shoppers_42 = person_of(shop, shop_key)
    person_of(clinic, clinic_key, content="HIV test result: negative")

    erasure.erase(shoppers_42, by="admin")

    kept = AuditEvent.objects.filter(client="clinic", kind="generation").get()
    assert kept.erased is None and "HIV" in json.dumps(kept.details)
    assert AuditEvent.objects.filter(client="shop", kind="generation").get().erased is not None
    call_command("audit", "verify")


def raw_event(Event, prev: str, kind: str, subject: str, client: str):
    """An event as the code before 0006 wrote it (scheme 2, no person)."""
    event = Event(kind=kind, subject=subject, actor=f"client:{client}", client=client,
                  created=timezone.now(), generation_id=uuid.uuid4(), details={"n": 1},
                  salt=secrets.token_hex(16), scheme=2, prev_hash=prev)
    event.content_digest = log.public_digest(event)
    event.personal_digest = log.personal_digest(event)
    event.hash = log.link(prev, event.content_digest, event.personal_digest)
    event.save()
    return event.hash


def test_migration_0006_gives_old_events_their_person_and_the_chain_still_verifies(
        transactional_db):
    apps = migrate(BEFORE)
    try:
        Event, Chain = apps.get_model("audit", "AuditEvent"), apps.get_model("audit", "AuditChain")
        prev = log.GENESIS
        for client in ("shop", "clinic"):
            prev = raw_event(Event, prev, "generation", "p_42", client)
        prev = raw_event(Event, prev, "consent_granted", "p_account", "shop")
        Chain.objects.update_or_create(pk=1, defaults={"last_hash": prev,
                                                       "base_hash": log.GENESIS})
    finally:
        migrate()

    shop, clinic, account = AuditEvent.objects.order_by("pk")
    assert shop.person and clinic.person and shop.person != clinic.person
    assert shop.person == log.person_of("generation", "shop", "p_42")
    assert account.person == log.person_of("consent_granted", "", "p_account")
    assert log.verify() == (3, None)

    AuditEvent.objects.filter(pk=clinic.pk).update(person=shop.person)  # moved into an export
    assert log.verify()[1].event_id == clinic.pk
