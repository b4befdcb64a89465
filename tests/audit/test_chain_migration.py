"""Events written before the chain was keyed (scheme 1: plain SHA-256 over all content) still
verify after migration 0003, the chain goes on across the boundary, and 0003's seal makes the
old events as hard to rewrite as the new ones."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterator

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit import log
from audit.models import AuditChain, AuditEvent

BEFORE = [("audit", "0002_seed_generation_purpose")]
GENESIS = "0" * 64
# What the code before 0003 hashed, and how (copied: the old code is gone).
OLD_CONTENT = ("kind", "created", "subject", "actor", "client", "route", "engine",
               "generation_id", "attempts", "prompt_tokens", "completion_tokens", "status",
               "details", "salt")


def migrate(targets: list[tuple[str, str]] | None = None):
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def old_digest(event) -> str:
    content = {name: getattr(event, name) for name in OLD_CONTENT}
    content["created"] = event.created.isoformat(timespec="microseconds")
    content["generation_id"] = str(event.generation_id) if event.generation_id else None
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def old_link(prev_hash: str, digest: str) -> str:
    return hashlib.sha256(f"{prev_hash}{digest}".encode()).hexdigest()


def old_record(apps, kind: str, created: dt.datetime | None = None, **fields):
    Event, Chain = apps.get_model("audit", "AuditEvent"), apps.get_model("audit", "AuditChain")
    head, _ = Chain.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS,
                                                          "base_hash": GENESIS})
    event = Event(kind=kind, created=created or timezone.now(), salt=secrets.token_hex(16),
                  prev_hash=head.last_hash, **fields)
    event.content_digest = old_digest(event)
    event.hash = old_link(event.prev_hash, event.content_digest)
    event.save()
    Chain.objects.filter(pk=1).update(last_hash=event.hash)
    return event


@pytest.fixture
def old(transactional_db) -> Iterator[list[int]]:
    """Five events written by the old code, two of them erased the old way (which left the
    actor of one and the subject of the other), then migration 0003."""
    apps = migrate(BEFORE)
    try:
        Event = apps.get_model("audit", "AuditEvent")
        ids = [old_record(apps, "generation", created=timezone.now() - dt.timedelta(days=400 - i),
                          subject=f"p_{i}", actor="privacy page", client="helpdesk",
                          route="default", engine="fake",
                          attempts=[{"engine": "fake", "outcome": "ok", "latency_ms": 2.5}],
                          prompt_tokens=7, completion_tokens=3, status="succeeded",
                          details={"i": i}).pk for i in range(5)]
        Event.objects.filter(pk=ids[1]).update(subject="", details={}, salt="",
                                               erased=timezone.now())
        Event.objects.filter(pk=ids[2]).update(actor="", salt="", erased=timezone.now())
        migrate()
        yield ids
    finally:
        migrate()


def test_old_events_still_verify_and_the_chain_goes_on(old):
    assert set(AuditEvent.objects.values_list("scheme", flat=True)) == {1}
    assert all(e.seal for e in AuditEvent.objects.all())
    assert log.verify() == (5, None)

    new = [log.record("x", subject="p_new", details={"n": n}) for n in range(2)]

    assert new[0].scheme == 2 and new[0].prev_hash == AuditEvent.objects.get(pk=old[-1]).hash
    assert log.verify() == (7, None)


@pytest.mark.parametrize("field,value", [("status", "failed"), ("prompt_tokens", 0),
                                         ("kind", "consent_granted"), ("engine", "cheaper")])
def test_an_erased_old_event_cannot_be_edited_any_more(old, field, value):
    AuditEvent.objects.filter(pk=old[1]).update(**{field: value})

    assert log.verify()[1].event_id == old[1]


def test_an_old_event_rewritten_with_plain_sha256_is_caught(old):
    """Even before any new event anchors the old ones behind a keyed link."""
    AuditEvent.objects.filter(pk=old[3]).update(status="failed")
    prev = AuditEvent.objects.get(pk=old[2]).hash
    for event in AuditEvent.objects.filter(pk__gte=old[3]).order_by("pk"):
        event.prev_hash = prev
        event.content_digest = old_digest(event)
        event.hash = old_link(prev, event.content_digest)
        event.save()
        prev = event.hash
    AuditChain.objects.filter(pk=1).update(last_hash=prev)

    assert log.verify()[1].event_id == old[3]


def test_an_event_written_the_old_way_after_the_migration_is_caught(old):
    """The downgrade: new events rewritten as old-scheme ones, with no seal to show."""
    log.record("x", status="ok")
    forged = AuditEvent.objects.order_by("pk").last()
    forged.scheme, forged.status = 1, "failed"
    forged.content_digest = old_digest(forged)
    forged.hash = old_link(forged.prev_hash, forged.content_digest)
    forged.save()
    AuditChain.objects.filter(pk=1).update(last_hash=forged.hash)

    assert log.verify()[1].event_id == forged.pk


def test_old_events_can_still_be_erased_and_purged(old):
    log.record("x", subject="p_new")
    persons = AuditEvent.objects.filter(subject__in=["p_3", "p_new"]).values_list("person",
                                                                                 flat=True)
    assert log.erase_subjects(list(persons)) == 2
    e = AuditEvent.objects.get(pk=old[3])
    assert (e.subject, e.actor, e.details, e.salt) == ("", "", {}, "")
    assert log.verify() == (6, None)

    AuditEvent.objects.filter(pk=old[3]).update(actor="admin:eve")
    assert log.verify()[1].event_id == old[3]
    AuditEvent.objects.filter(pk=old[3]).update(actor="")

    cutoff = AuditEvent.objects.get(pk=old[2]).created + dt.timedelta(microseconds=1)
    assert log.purge_before(cutoff) == 3
    assert log.verify() == (3, None)
    assert log.purge_before(timezone.now() + dt.timedelta(hours=1)) == 3
    assert log.verify() == (0, None)
    log.record("x")
    assert log.verify() == (1, None)


def test_going_back_before_the_key_is_refused_once_keyed_events_exist(old):
    log.record("x")

    with pytest.raises(RuntimeError, match="not going back"):
        migrate(BEFORE)
    migrate()  # the later migrations, undone before 0003 refused, again
    assert log.verify() == (6, None)
