"""The audit log: `record()` an event, `verify()` the chain, erase or purge within the rules.

Each event keeps two digests. `content_digest` is SHA-256 over its public fields (`PUBLIC`:
kind, time, client, route, engine, generation, attempts, tokens, status), which erasure never
clears; `personal_digest` is SHA-256 over the fields erasure clears (`PERSONAL`: subject,
actor, details, and a random salt, so that a digest cannot be matched against guessed
content). The link is keyed: `hash` = HMAC-SHA256(key, prev_hash + content_digest +
personal_digest), the key being `DIHYA_AUDIT_KEY` (else one derived from SECRET_KEY), which
lives in the environment, never in the database.

`verify()` always checks the public digest, checks the personal digest unless the event was
erased, and requires an erased event to hold no personal content at all (so erasure cannot
be faked to rewrite an event, and content cannot be slipped into an erased one). Erasing
clears subject, actor, details and salt and keeps both digests, so the chain still verifies.

Why a key, rather than publishing the head hash somewhere outside the database: a key needs
nothing but a setting, is checked by every `audit verify`, and covers every event as soon as
it is written. What it protects against: someone who can write to the database (a stolen
password, an SQL injection, a careless operator) but does not hold the key cannot edit,
insert, reorder or downgrade an event, or recompute the chain after an edit, without `audit
verify` naming the first broken event. What it does not: whoever holds the key and the
database can rewrite everything; a database writer can still delete the newest events (and
move the head back), delete the oldest ones (as retention does), or erase an event's personal
content (as erasure does). Copying the head hash that `audit verify` prints somewhere outside
the database (a ticket, a log shipped elsewhere) catches the deleted newest events too.

Events written before the key existed are scheme 1: SHA-256 over all content, `hash` =
SHA-256(prev_hash + content_digest), and the digest was not checked once erased. Migration
0003 gave each of them a `seal`, HMAC-SHA256(key, their hash, their public fields and whether
they were erased then), so they are verified the old way plus the seal; the first keyed event
links to the last old one, and an event after the migration cannot pass for an old one
without a seal. Old events erased before 0003 may still hold the part the old erasure left
(the actor, or the subject and details): that part is not covered by any digest.

Writers serialise on the `AuditChain` head row (SELECT … FOR UPDATE on PostgreSQL; SQLite's
IMMEDIATE transactions already serialise writers). That lock is the LAST any transaction takes:
record the event after every other row the transaction changes (quota counters, generations,
consents), so that two transactions never wait on each other in a cycle. Text is redacted
before it is stored; nothing here logs what it records.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditChain, AuditEvent
from audit.redaction import redact, redact_data
from dihya.lib.pseudonyms import person_at, pseudonym

GENESIS = "0" * 64
SCHEME = 2  # a keyed link over a public and a personal digest; 1: the events before 0003
PUBLIC = ("kind", "created", "client", "route", "engine", "generation_id", "attempts",
          "prompt_tokens", "completion_tokens", "status")  # what erasure never clears
PERSONAL = ("subject", "actor", "details", "salt")  # what erasure clears
CLEARED: dict[str, Any] = {"subject": "", "actor": "", "details": {}, "salt": ""}
LEGACY_CONTENT = PUBLIC + PERSONAL  # scheme 1 hashed them all in one digest


def derived_key() -> str:
    """The chain's key while DIHYA_AUDIT_KEY is unset. Setting DIHYA_AUDIT_KEY to this value
    keeps the events already written verifiable, and SECRET_KEY free to change."""
    return hmac.new(settings.SECRET_KEY.encode(), b"dihya-audit-chain",
                    hashlib.sha256).hexdigest()


def chain_key() -> bytes:
    return (settings.DIHYA_AUDIT_KEY or derived_key()).encode()


def _blob(event: Any, names: Iterable[str]) -> bytes:
    """Canonical JSON of these fields of `event` (a model instance, current or historical)."""
    content = {name: getattr(event, name) for name in names}
    if "created" in content:
        content["created"] = event.created.isoformat(timespec="microseconds")
    if "generation_id" in content:
        content["generation_id"] = str(event.generation_id) if event.generation_id else None
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()


def public_digest(event: Any) -> str:
    return hashlib.sha256(_blob(event, PUBLIC)).hexdigest()


def personal_digest(event: Any) -> str:
    return hashlib.sha256(_blob(event, PERSONAL)).hexdigest()


def link(prev_hash: str, public: str, personal: str, key: bytes | None = None) -> str:
    message = f"{prev_hash}{public}{personal}".encode()
    return hmac.new(key or chain_key(), message, hashlib.sha256).hexdigest()


def legacy_digest(event: Any) -> str:
    """Scheme 1's `content_digest`, byte for byte as the code before migration 0003 made it."""
    return hashlib.sha256(_blob(event, LEGACY_CONTENT)).hexdigest()


def legacy_link(prev_hash: str, content_digest: str) -> str:
    return hashlib.sha256(f"{prev_hash}{content_digest}".encode()).hexdigest()


def legacy_seal(event: Any, was_erased: bool, key: bytes | None = None) -> str:
    """The seal migration 0003 gave a scheme 1 event: its hash, its public fields and whether
    it was erased then, under the key."""
    message = b"|".join([b"dihya-audit-seal-1", b"erased" if was_erased else b"kept",
                         event.hash.encode(), _blob(event, PUBLIC)])
    return hmac.new(key or chain_key(), message, hashlib.sha256).hexdigest()


#: Kinds whose subject is the pseudonym of an account (a username), whichever client acted:
#: the person is the account. Every other subject is the pseudonym of an id a client sent,
#: which names a person at that client only.
ACCOUNT_SUBJECTS = frozenset({"consent_granted", "consent_withdrawn", "data_request",
                              "sso_sign_in"})


def person_of(kind: str, client: str, subject: str) -> str:
    """The person an event is about (`dihya.lib.pseudonyms.person_at`), "" for nobody.

    Stored in `person`, outside the digests: the subject stays what the chain sealed (the
    pseudonym of a raw id, the same at every client), and this column tells shop's "42" from
    clinic's "42". It is a function of fields the chain covers, so it can be recomputed (as
    migration 0006 did for the events before it) and `verify` checks it."""
    if not subject:
        return ""
    return person_at("" if kind in ACCOUNT_SUBJECTS else client, subject)


def _head() -> AuditChain:
    head = AuditChain.objects.select_for_update().filter(pk=1).first()
    if head is None:
        AuditChain.objects.get_or_create(pk=1, defaults={"last_hash": GENESIS,
                                                         "base_hash": GENESIS})
        head = AuditChain.objects.select_for_update().get(pk=1)
    return head


def record(kind: str, *, subject: str = "", actor: str = "", client: str = "", route: str = "",
           engine: str = "", generation_id: Any = None, attempts: Iterable[dict] = (),
           prompt_tokens: int = 0, completion_tokens: int = 0, status: str = "",
           details: dict[str, Any] | None = None) -> AuditEvent:
    """Append one event. `details` and attempt details are redacted before they are stored."""
    event = _event(kind, subject=subject, actor=actor, client=client, route=route,
                   engine=engine, generation_id=generation_id, attempts=attempts,
                   prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                   status=status, details=details)
    with transaction.atomic():
        head = _head()
        _chain(event, head.last_hash)
        event.save(force_insert=True)
        AuditChain.objects.filter(pk=1).update(last_hash=event.hash)
    return event


def record_many(events: Iterable[dict[str, Any]]) -> list[AuditEvent]:
    """Append several events, in the order given, under one lock of the chain: each a mapping
    of `record`'s arguments (with `kind`). The chain is the one `record` would have made one
    event at a time (each links to the one before), so `verify` cannot tell them apart; what
    it saves is the lock, the head's read and write, and one INSERT per event. The recorder
    of finished generations (`dihya.generation.recorder`) writes its batches through it."""
    made = [_event(**fields) for fields in events]
    if not made:
        return []
    with transaction.atomic():
        head = _head()
        prev = head.last_hash
        for event in made:
            prev = _chain(event, prev)
        AuditEvent.objects.bulk_create(made)
        AuditChain.objects.filter(pk=1).update(last_hash=prev)
    return made


def _event(kind: str, *, subject: str = "", actor: str = "", client: str = "", route: str = "",
           engine: str = "", generation_id: Any = None, attempts: Iterable[dict] = (),
           prompt_tokens: int = 0, completion_tokens: int = 0, status: str = "",
           details: dict[str, Any] | None = None) -> AuditEvent:
    return AuditEvent(
        kind=kind, subject=subject, person=person_of(kind, client[:64], subject),
        actor=redact(actor)[:150], client=client[:64],
        route=route[:64], engine=engine[:64], generation_id=generation_id,
        attempts=redact_data(list(attempts)), prompt_tokens=prompt_tokens or 0,
        completion_tokens=completion_tokens or 0, status=status[:32],
        details=redact_data(details or {}), salt=secrets.token_hex(16))


def _chain(event: AuditEvent, prev_hash: str) -> str:
    """Stamp `event` as the one after `prev_hash` (under the head's lock); its hash."""
    event.created = timezone.now()
    event.prev_hash = prev_hash
    event.scheme = SCHEME
    event.content_digest = public_digest(event)
    event.personal_digest = personal_digest(event)
    event.hash = link(event.prev_hash, event.content_digest, event.personal_digest)
    return event.hash


@dataclass(frozen=True, slots=True)
class Broken:
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"event #{self.event_id}" if self.event_id is not None else "the chain head"
        return f"{where}: {self.reason}"


def verify(batch: int = 2000) -> tuple[int, Broken | None]:
    """Walk the chain oldest first; (events checked, first broken link or None)."""
    head = AuditChain.objects.filter(pk=1).first()
    expected = head.base_hash if head else GENESIS
    key = chain_key()
    keyed = False  # once a keyed event is seen, an old-scheme one can only be a forgery
    checked = 0
    for event in _oldest_first(batch):
        if event.prev_hash != expected:
            return checked, Broken(event.pk, "does not follow the previous event "
                                             "(an event before it was deleted or edited)")
        if event.scheme == SCHEME:
            problem = _check(event, key)
            keyed = True
        elif event.scheme == 1:
            problem = _check_legacy(event, key, after_keyed=keyed)
        else:
            problem = f"its scheme {event.scheme} is unknown (edited)"
        if problem:
            return checked, Broken(event.pk, problem)
        expected = event.hash
        checked += 1
    if head and head.last_hash != expected:
        return checked, Broken(None, "the last events were deleted")
    return checked, None


def _cleared(event: AuditEvent) -> bool:
    return all(getattr(event, name) == value for name, value in CLEARED.items())


def _check(event: AuditEvent, key: bytes) -> str:
    """What is wrong with a scheme 2 event, or "" if nothing is."""
    if not hmac.compare_digest(public_digest(event), event.content_digest):
        return ("its kind, time, client, route, engine, attempts, tokens or status do not "
                "match their digest (edited)")
    if event.erased is None:
        if not hmac.compare_digest(personal_digest(event), event.personal_digest):
            return "its subject, actor or details do not match their digest (edited)"
    elif not _cleared(event):
        return "it is marked erased but holds personal content (edited)"
    if problem := _person_problem(event):
        return problem
    if not hmac.compare_digest(link(event.prev_hash, event.content_digest,
                                    event.personal_digest, key), event.hash):
        return ("its hash is not the keyed link of its digests (the chain was recomputed "
                "without the key, or DIHYA_AUDIT_KEY changed)")
    return ""


def _check_legacy(event: AuditEvent, key: bytes, *, after_keyed: bool) -> str:
    """What is wrong with a scheme 1 event (written before migration 0003), or ""."""
    if after_keyed:
        return "it claims the old, unkeyed scheme but follows keyed events (downgraded)"
    if hmac.compare_digest(legacy_seal(event, False, key), event.seal):
        was_erased = False
    elif hmac.compare_digest(legacy_seal(event, True, key), event.seal):
        was_erased = True
    else:
        return ("its seal does not match its hash and its kind, time, client, route, engine, "
                "attempts, tokens or status (edited, or DIHYA_AUDIT_KEY changed)")
    if was_erased:
        if event.erased is None:
            return "it was erased before the chain was keyed, and is now marked not erased"
    elif event.erased is None:
        if not hmac.compare_digest(legacy_digest(event), event.content_digest):
            return "its content does not match its digest (edited)"
    elif not _cleared(event):
        return "it is marked erased but holds personal content (edited)"
    if legacy_link(event.prev_hash, event.content_digest) != event.hash:
        return "its hash does not match (edited)"
    return _person_problem(event)


def _person_problem(event: AuditEvent) -> str:
    """`person` is outside the digests but a function of what they cover: checked here, so
    that moving an event to another person (into or out of someone's export) is caught."""
    if event.person != person_of(event.kind, event.client, event.subject):
        return ("its person is not the one its kind, client and subject name (edited, or "
                "DIHYA_PSEUDONYM_KEY changed)")
    return ""


def _oldest_first(batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(AuditEvent.objects.filter(pk__gt=last).order_by("pk")[:batch])
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].pk


#: An actor that is a person, by pseudonym: `person:p_…`. Every other actor is a system one —
#: a process, a schedule, a page ("schedule", "privacy page", "config apply (deploy)") — and is
#: never taken for a person by erasure, whatever its name.
PERSON = "person:"


def person(username: str) -> str:
    """The actor string for a person acting (an admin editing, an operator forcing a breaker):
    typed, and pseudonymous like subjects, so that erasure finds all of it and nothing else."""
    return PERSON + pseudonym(username)


def about(persons: Iterable[str], account: str = "", client: str | None = None) -> Q:
    """Events about these persons (`person_of`), never selected by a raw id or a subject:
    with `client`, the account's own events (`account`, its `person_of` with no client) only
    where that client acted."""
    match = Q(person__in=[p for p in persons if p])
    if account and client is not None:
        match |= Q(person=account, client=client)
    return match


def erase_subjects(persons: Iterable[str], generation_ids: Iterable[Any] = (),
                   people: Iterable[str] = (), *, account: str = "",
                   client: str | None = None) -> int:
    """Clear the personal content (subject, actor, details, salt) of every event about these
    persons (`about`) or these generations, or done by these people (their usernames: as typed
    actors, and in the `admin:<username>` form events written before actors were typed); both
    digests stay, so the chain stays valid. Returns how many events."""
    match = about(persons, account, client) | Q(generation_id__in=list(generation_ids))
    names = [n for n in people if n]
    if names:
        match |= Q(actor__in=[person(n) for n in names] + [f"admin:{n}" for n in names])
    return AuditEvent.objects.filter(match).update(**CLEARED, person="", erased=timezone.now())


def events_about(persons: Iterable[str], account: str = "",
                 client: str | None = None) -> list[dict[str, Any]]:
    rows = AuditEvent.objects.filter(about(persons, account, client)).order_by("pk")
    return [{"id": e.pk, "kind": e.kind, "created": e.created.isoformat(), "actor": e.actor,
             "client": e.client, "route": e.route, "engine": e.engine,
             "generation_id": str(e.generation_id) if e.generation_id else None,
             "attempts": e.attempts, "prompt_tokens": e.prompt_tokens,
             "completion_tokens": e.completion_tokens, "status": e.status,
             "details": e.details} for e in rows]


def purge_before(cutoff: datetime) -> int:
    """Delete the oldest events up to `cutoff`. Only a prefix goes, so the rest still verifies."""
    with transaction.atomic():
        head = _head()
        last = (AuditEvent.objects.filter(created__lt=cutoff).order_by("-pk")
                .values_list("pk", flat=True).first())
        if last is None:
            return 0
        base = AuditEvent.objects.values_list("hash", flat=True).get(pk=last)
        deleted, _ = AuditEvent.objects.filter(pk__lte=last).delete()
        head.base_hash = base
        head.save(update_fields=["base_hash"])
    return deleted
