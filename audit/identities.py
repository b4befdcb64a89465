"""People as clients know them: external identities per client, and personal consent links.

A client names a person in `user` by an id of its own. That id means a person at that client
only: the same string at two clients is two people, unless an admin declared it for every
client (an identity with no client) or the client declared that its ids are Dihya usernames or
e-mail addresses (`dihya.generation.identity`). A person a client brings through a consent
link or the consent API gets an account with an unusable password: nobody can sign in to it,
it only carries their consents and records.

Consent links: a token of 256 bits in the URL, stored only as its SHA-256, naming one
client and one external id, short-lived (DIHYA_CONSENT_LINK_DAYS) and spent by the person's
answer. The token is a keyed hash (HMAC-SHA256 under a key derived from SECRET_KEY) of the
link's own fields, so that a person refused again and again is handed their live link again
(`live_link`) instead of a new row and a new event each time; without the key it is as
unguessable as a random one, and a link whose token no longer derives (the key changed) is
simply not reused. Why a stored token rather than a `signing.TimestampSigner` value: a signed value
carries its payload readable (base64), so it would show the external id, which is often
personal data (an e-mail, an employee number); a stored token carries nothing, can be spent
exactly once (a signed value can only expire), and erasure can delete it with the person.

This module never logs an external id or a token: events name people by pseudonym.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit import consent, log
from audit.models import Consent, ConsentLink, ExternalIdentity
from dihya.lib.pseudonyms import pseudonym

Source = ExternalIdentity.Source


# --- external identities -----------------------------------------------------------------
def find(client_id: int, external_id: str) -> AbstractBaseUser | None:
    """The active account a client's id names: its own identity first, else an admin's."""
    if not external_id:
        return None
    found = (ExternalIdentity.objects
             .filter(Q(client_id=client_id) | Q(client_id__isnull=True),
                     external_id=external_id, user__is_active=True)
             .exclude(source=Source.SSO)
             .select_related("user").order_by(F("client_id").asc(nulls_last=True)).first())
    return found.user if found else None


def find_sso(sub: str) -> AbstractBaseUser | None:
    """The account the identity provider's `sub` signed in to (active or not)."""
    found = (ExternalIdentity.objects.filter(source=Source.SSO, external_id=sub)
             .select_related("user").first())
    return found.user if found else None


def link_sso(user: AbstractBaseUser, sub: str) -> None:
    ExternalIdentity.objects.create(user=user, client_id=None, external_id=sub,
                                    source=Source.SSO)


def new_person() -> AbstractBaseUser:
    """An account for someone a client brought: a meaningless name, no usable password."""
    User = get_user_model()
    person = User(**{User.USERNAME_FIELD: f"person-{secrets.token_hex(6)}"})
    person.set_unusable_password()
    person.save()
    return person


def person_for(client_id: int, external_id: str, *, source: str) -> AbstractBaseUser:
    """The person the client's id names, created (with their identity) if new."""
    with transaction.atomic():
        found = find(client_id, external_id)
        if found is not None:
            return found
        person = new_person()
        try:
            with transaction.atomic():
                ExternalIdentity.objects.create(user=person, client_id=client_id,
                                                external_id=external_id, source=source)
        except IntegrityError:  # a concurrent answer made them first
            person.delete()
            found = find(client_id, external_id)
            assert found is not None
            return found
        return person


def has_identity_at(user: AbstractBaseUser, client_id: int) -> bool:
    return ExternalIdentity.objects.filter(user=user, client_id=client_id).exists()


def client_ids_of(user: AbstractBaseUser) -> list[tuple[int | None, str]]:
    """(client id, external id) of every identity of the person; None: every client."""
    return list(ExternalIdentity.objects.filter(user=user)
                .values_list("client_id", "external_id"))


def _links_of(user: AbstractBaseUser, client_id: int | None) -> Any:
    """The person's links: all of them, or (client_id) that client's only."""
    links = ConsentLink.objects.filter(Q(user=user) | _links_of_identities(client_ids_of(user)))
    return links if client_id is None else links.filter(client_id=client_id)


def _identities_of(user: AbstractBaseUser, client_id: int | None) -> Any:
    """The person's ids: all of them, or (client_id) the ones that client made or was given
    (an admin's id for every client is not one client's to erase)."""
    mine = ExternalIdentity.objects.filter(user=user)
    return mine if client_id is None else mine.filter(client_id=client_id)


def erase_links(user: AbstractBaseUser, client_id: int | None = None) -> int:
    """Erasure: the consent links made for the person (before their identities go)."""
    return _links_of(user, client_id).delete()[0]


def erase_identities(user: AbstractBaseUser, client_id: int | None = None) -> int:
    """Erasure: the ids clients know the person by (the account goes after them)."""
    return _identities_of(user, client_id).delete()[0]


def export_identities(user: AbstractBaseUser, client_id: int | None = None
                      ) -> list[dict[str, Any]]:
    return [{"client_id": c, "id": e}
            for c, e in _identities_of(user, client_id).values_list("client_id", "external_id")]


def export_links(user: AbstractBaseUser, client_id: int | None = None) -> list[dict[str, Any]]:
    return [describe(link) for link in _links_of(user, client_id)]


def _links_of_identities(identities: list[tuple[int | None, str]]) -> Q:
    match = Q(pk__in=[])
    for client_id, external_id in identities:
        match |= (Q(external_id=external_id) if client_id is None
                  else Q(client_id=client_id, external_id=external_id))
    return match


# --- consent links -------------------------------------------------------------------------
class LinkRefused(Exception):
    """A link that cannot be used: `reason` is unknown (or tampered), expired or used."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def digest_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_for(client_id: int, external_id: str, purpose: str, created: dt.datetime) -> str:
    """The token of the link made for these at `created` (see the module docstring)."""
    key = hmac.new(settings.SECRET_KEY.encode(), b"dihya-consent-link", hashlib.sha256).digest()
    message = "\x1f".join([str(client_id), external_id, purpose,
                           created.isoformat(timespec="microseconds")]).encode()
    return base64.urlsafe_b64encode(hmac.new(key, message, hashlib.sha256).digest()
                                    ).decode().rstrip("=")


def live_link(client_id: int, external_id: str, purpose: str = consent.GENERATION
              ) -> tuple[str, ConsentLink] | None:
    """The person's unanswered link at this client, if it has at least a day to live and its
    token still derives: (raw token, row); None when a new one is needed."""
    now = timezone.now()
    found = (ConsentLink.objects.filter(client_id=client_id, external_id=external_id,
                                        purpose=purpose, used__isnull=True,
                                        expires__gt=now + dt.timedelta(days=1))
             .order_by("-created").first())
    if found is None:
        return None
    token = token_for(client_id, external_id, purpose, found.created)
    return (token, found) if hmac.compare_digest(digest_of(token), found.digest) else None


def link_expiry(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) + dt.timedelta(days=settings.DIHYA_CONSENT_LINK_DAYS)


def issue_link(client_id: int, client_name: str, external_id: str,
               purpose: str = consent.GENERATION, *, created: dt.datetime | None = None
               ) -> tuple[str, ConsentLink]:
    """The person's live link at this client (`live_link`), else a fresh one: (raw token, row).

    `created` given: a link already promised to the client (the consent gate names it in a
    refusal before the refused transaction is rolled back, then stores it)."""
    if created is None:
        live = live_link(client_id, external_id, purpose)
        if live is not None:
            return live
    now = created or timezone.now()
    token = token_for(client_id, external_id, purpose, now)
    link = ConsentLink.objects.create(
        digest=digest_of(token), client_id=client_id, client_name=client_name,
        external_id=external_id, purpose=purpose, created=now, expires=link_expiry(now),
        user=find(client_id, external_id))
    log.record("consent_link_issued", subject=pseudonym(external_id), actor=f"client:{client_name}",
               client=client_name, details={"purpose": purpose, "link": link.pk})
    return token, link


def open_link(token: str) -> ConsentLink:
    """The link a raw token stands for, if it can still be answered; else LinkRefused."""
    link = ConsentLink.objects.filter(digest=digest_of(token)).first() if token else None
    if link is None:
        raise LinkRefused("unknown")
    if link.used is not None:
        raise LinkRefused("used")
    if link.expires <= timezone.now():
        raise LinkRefused("expired")
    return link


def answer(link: ConsentLink, agreed: bool,
           person_of: Callable[[bool], AbstractBaseUser | None]) -> AbstractBaseUser | None:
    """Spend the link with the person's answer; agreeing records the consent (how = consent
    link, the client named) for the person `person_of(agreed)` finds — or makes, with their
    identity at that client, when they agreed (the wiring knows how each client names people).

    The person is returned, if known, so that they can reach their privacy page. Claiming the
    link is one conditional UPDATE: of two answers, one wins and the other is LinkRefused."""
    now = timezone.now()
    with transaction.atomic():
        claimed = ConsentLink.objects.filter(pk=link.pk, used__isnull=True,
                                             expires__gt=now).update(
            used=now, answer="agreed" if agreed else "declined")
        if not claimed:
            raise LinkRefused("used")
        person = person_of(agreed)
        if person is not None:
            ConsentLink.objects.filter(pk=link.pk).update(user=person)
        log.record("consent_link_used", subject=pseudonym(link.external_id),
                   actor=f"client:{link.client_name}", client=link.client_name,
                   details={"purpose": link.purpose, "link": link.pk,
                            "answer": "agreed" if agreed else "declined"})
        if agreed and person is not None:
            consent.grant(person, link.purpose, how=Consent.How.LINK, client=link.client_name,
                          actor=f"client:{link.client_name}")
    return person


def purge_expired(before: dt.datetime) -> int:
    """Links that expired before `before` are of no use to anyone: retention deletes them."""
    return ConsentLink.objects.filter(expires__lt=before).delete()[0]


def describe(link: ConsentLink) -> dict[str, Any]:
    return {"client": link.client_name, "purpose": link.purpose,
            "created": link.created.isoformat(), "expires": link.expires.isoformat(),
            "used": link.used.isoformat() if link.used else None, "answer": link.answer or None}
