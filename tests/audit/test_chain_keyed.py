"""The chain resists a database writer: an erased event's public fields stay checked, and
without `DIHYA_AUDIT_KEY` the chain cannot be recomputed after an edit."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from unittest import mock

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import log
from audit.models import AuditChain, AuditEvent


def chain(n: int = 4, **fields) -> list[AuditEvent]:
    return [log.record("generation", subject=f"p_{i}", actor="privacy page", client="helpdesk",
                       route="default", engine="fake", generation_id=uuid.uuid4(),
                       attempts=[{"engine": "fake", "outcome": "ok", "latency_ms": 1.5}],
                       prompt_tokens=7, completion_tokens=3, status="succeeded",
                       details={"i": i}, **fields) for i in range(n)]


def broken_at(event: AuditEvent) -> None:
    checked, broken = log.verify()
    assert broken is not None, "the tampering went unnoticed"
    assert broken.event_id == event.pk, broken
    assert checked == AuditEvent.objects.filter(pk__lt=event.pk).count()
    with pytest.raises(CommandError, match=f"event #{event.pk}"):
        call_command("audit", "verify")


EDITS = {
    "status": "failed",
    "kind": "consent_granted",
    "prompt_tokens": 0,
    "completion_tokens": 9999,
    "client": "someone-else",
    "route": "other",
    "engine": "cheaper",
    "attempts": [{"engine": "fake", "outcome": "ok", "latency_ms": 0.1}],
    "generation_id": uuid.UUID(int=7),
    "created": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
}


@pytest.mark.parametrize("field", EDITS)
def test_a_public_field_of_an_erased_event_cannot_be_edited(db, field):
    events = chain()
    log.erase_subjects([events[1].person])
    assert log.verify() == (4, None)

    AuditEvent.objects.filter(pk=events[1].pk).update(**{field: EDITS[field]})
    broken_at(events[1])


def test_marking_an_event_erased_does_not_let_its_fields_be_rewritten(db):
    events = chain()
    AuditEvent.objects.filter(pk=events[2].pk).update(erased=timezone.now(), status="failed",
                                                      prompt_tokens=0)
    broken_at(events[2])


@pytest.mark.parametrize("field,value", [("subject", "p_someone_else"), ("actor", "admin:eve"),
                                         ("details", {"note": "made up"})])
def test_content_written_into_an_erased_event_is_caught(db, field, value):
    events = chain()
    log.erase_subjects([events[1].person])

    AuditEvent.objects.filter(pk=events[1].pk).update(**{field: value})
    broken_at(events[1])


def test_an_erased_event_cannot_be_unerased(db):
    events = chain()
    log.erase_subjects([events[1].person])

    AuditEvent.objects.filter(pk=events[1].pk).update(erased=None)
    broken_at(events[1])


def test_erasure_clears_every_personal_field_and_the_chain_still_verifies(db):
    events = chain()
    log.record("breaker_forced", actor=log.person("bob"), engine="fake",
               details={"reason": "bob's call"})

    assert log.erase_subjects([events[1].person], people=["bob"]) == 2

    for event in AuditEvent.objects.filter(erased__isnull=False):
        assert (event.subject, event.actor, event.details, event.salt) == ("", "", {}, "")
        assert event.status or event.engine  # the public fields stay
    assert AuditEvent.objects.filter(erased__isnull=False).count() == 2
    assert log.verify() == (5, None)


def test_events_rewritten_by_someone_without_the_key_are_caught(db, settings):
    """The attacker has the database and the code, not the key: they delete the last events and
    write them again, edited, through the code itself running under a key of their own."""
    settings.DIHYA_AUDIT_KEY = "the operator's key"
    events = chain()
    originals = list(AuditEvent.objects.filter(pk__gte=events[1].pk).order_by("pk"))
    AuditEvent.objects.filter(pk__gte=events[1].pk).delete()
    AuditChain.objects.filter(pk=1).update(last_hash=events[0].hash)

    settings.DIHYA_AUDIT_KEY = "the attacker's guess"
    forged = []
    for e in originals:
        with mock.patch("audit.log.timezone.now", return_value=e.created):
            forged.append(log.record(e.kind, client=e.client, route=e.route, engine=e.engine,
                                     attempts=e.attempts, status="failed"))
    assert forged[0].prev_hash == events[0].hash  # it does follow on

    settings.DIHYA_AUDIT_KEY = "the operator's key"
    assert log.verify()[0] == 1
    broken_at(forged[0])


def test_a_chain_recomputed_with_plain_sha256_is_caught(db):
    events = chain()
    AuditEvent.objects.filter(pk=events[1].pk).update(status="failed")
    prev = events[0].hash
    for event in AuditEvent.objects.filter(pk__gte=events[1].pk).order_by("pk"):
        event.prev_hash = prev
        event.content_digest = log.public_digest(event)
        event.personal_digest = log.personal_digest(event)
        event.hash = hashlib.sha256(
            f"{prev}{event.content_digest}{event.personal_digest}".encode()).hexdigest()
        event.save()
        prev = event.hash
    AuditChain.objects.filter(pk=1).update(last_hash=prev)

    broken_at(events[1])


def test_an_event_downgraded_to_the_old_unkeyed_scheme_is_caught(db):
    events = chain()
    AuditEvent.objects.filter(pk=events[3].pk).update(status="failed", scheme=1)
    forged = AuditEvent.objects.get(pk=events[3].pk)
    forged.content_digest = log.legacy_digest(forged)
    forged.hash = hashlib.sha256(f"{forged.prev_hash}{forged.content_digest}".encode()).hexdigest()
    forged.save()
    AuditChain.objects.filter(pk=1).update(last_hash=forged.hash)

    broken_at(events[3])


def test_the_link_is_an_hmac_of_both_digests_under_the_key(db, settings):
    settings.DIHYA_AUDIT_KEY = "k" * 32
    event = chain(1)[0]

    assert event.scheme == 2
    assert event.content_digest == log.public_digest(event)
    assert event.personal_digest == log.personal_digest(event)
    message = f"{event.prev_hash}{event.content_digest}{event.personal_digest}".encode()
    assert event.hash == hmac.new(b"k" * 32, message, hashlib.sha256).hexdigest()


def test_the_key_comes_from_the_setting_or_else_from_secret_key(db, settings):
    settings.DIHYA_AUDIT_KEY = ""
    events = chain(2)
    assert log.verify() == (2, None)

    settings.DIHYA_AUDIT_KEY = log.derived_key()  # what to set to keep an existing chain
    assert log.verify() == (2, None)

    settings.DIHYA_AUDIT_KEY = ""
    settings.SECRET_KEY = "another secret key"
    checked, broken = log.verify()
    assert checked == 0 and broken.event_id == events[0].pk


def test_a_retention_purge_still_verifies(db):
    events = chain(5)
    log.erase_subjects([events[3].subject])
    assert log.purge_before(events[2].created + dt.timedelta(microseconds=1)) == 3

    assert log.verify() == (2, None)
    AuditEvent.objects.filter(pk=events[3].pk).update(prompt_tokens=1)
    broken_at(events[3])


def deploy_ids() -> set[str]:
    return {m.id for m in run_checks(include_deployment_checks=True)}


def test_check_deploy_warns_when_the_audit_key_is_unset(settings):
    settings.DIHYA_AUDIT_KEY = ""
    assert "dihya.W004" in deploy_ids()
    settings.DIHYA_AUDIT_KEY = "x" * 32
    assert "dihya.W004" not in deploy_ids()
