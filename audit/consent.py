"""Consent verbs: grant, withdraw, is_active, require.

A consent counts only for the purpose's current version: publishing a new policy version asks
everyone again. Rows are never deleted here; the history is the proof (GDPR art. 7(1)).
Withdrawal sends `audit.signals.consent_withdrawn` so that the wiring can stop what is queued.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit import log, policies
from audit.models import Consent, Purpose
from audit.signals import consent_withdrawn
from dihya.lib.pseudonyms import pseudonym

GENERATION = "generation"
#: A person who has not agreed to it is served only by self-hosted engines (lawful egress).
THIRD_PARTY = "third-party-engines"
SHIPPED = {GENERATION: (policies.GENERATION_TITLE, policies.GENERATION_POLICY),
           THIRD_PARTY: (policies.THIRD_PARTY_TITLE, policies.THIRD_PARTY_POLICY)}


class ConsentMissing(Exception):
    def __init__(self, purpose: str) -> None:
        super().__init__(f"no active consent for {purpose!r}")
        self.purpose = purpose


class PolicyOutdated(Exception):
    def __init__(self, purpose: str, current: int) -> None:
        super().__init__(f"{purpose!r} is at policy version {current}")
        self.purpose = purpose
        self.current = current


def _subject(user: AbstractBaseUser) -> str:
    return pseudonym(user.get_username())


def active_consent(user: AbstractBaseUser | None, slug: str = GENERATION) -> Consent | None:
    if user is None or not user.pk:
        return None
    return (Consent.objects.filter(user=user, purpose__slug=slug, withdrawn_at__isnull=True,
                                   version=Purpose.objects.filter(slug=slug).values("version")[:1])
            .first())


def is_active(user: AbstractBaseUser | None, slug: str = GENERATION) -> bool:
    """Same answer as `active_consent(...) is not None`, in the cheapest form (one join, EXISTS):
    the consent gate asks it on every call; measured 0.28 ms against 0.7 ms."""
    if user is None or not user.pk:
        return False
    return Consent.objects.filter(user=user, purpose__slug=slug, withdrawn_at__isnull=True,
                                  version=F("purpose__version")).exists()


def require(user: AbstractBaseUser | None, slug: str = GENERATION) -> None:
    """Raise ConsentMissing unless `user` consents to the current version of `slug`."""
    if not is_active(user, slug):
        raise ConsentMissing(slug)


def get_purpose(slug: str = GENERATION) -> Purpose:
    """The purpose; a shipped one is recreated from its text if it went missing."""
    if slug in SHIPPED:
        title, policy = SHIPPED[slug]
        found, _ = Purpose.objects.get_or_create(slug=slug, defaults={
            "title": title, "policy": policy})
        return found
    return Purpose.objects.get(slug=slug)


def grant(user: AbstractBaseUser, slug: str = GENERATION, *, how: str = Consent.How.PRIVACY_PAGE,
          actor: str = "", client: str = "", evidence: str = "",
          version: int | None = None) -> Consent:
    """Consent to the purpose's current version (idempotent: an open grant is returned).

    `client` names the client whose link or API call recorded it; `version`, when given, is
    the version the person was shown: a consent to any other than the current one is refused
    (PolicyOutdated), as it would not count."""
    purpose = get_purpose(slug)
    if version is not None and version != purpose.version:
        raise PolicyOutdated(slug, purpose.version)
    with transaction.atomic():
        existing = Consent.objects.filter(user=user, purpose=purpose, version=purpose.version,
                                          withdrawn_at__isnull=True).first()
        if existing:
            return existing
        try:
            with transaction.atomic():
                consent = Consent.objects.create(user=user, purpose=purpose,
                                                 version=purpose.version, how=how,
                                                 client=client, evidence=evidence[:500])
        except IntegrityError:  # a concurrent grant won
            return Consent.objects.get(user=user, purpose=purpose, version=purpose.version,
                                       withdrawn_at__isnull=True)
        log.record("consent_granted", subject=_subject(user), actor=actor or how, client=client,
                   details={"purpose": slug, "version": purpose.version, "how": how})
    return consent


def withdraw(user: AbstractBaseUser, slug: str = GENERATION, *,
             how: str = Consent.How.PRIVACY_PAGE, actor: str = "", client: str = "",
             reason: str = "") -> int:
    """Withdraw every open grant of the purpose (any version). Takes effect at once.
    `reason` is why someone else did it for the person (an admin handling their request):
    audited with the withdrawal."""
    with transaction.atomic():
        count = Consent.objects.filter(user=user, purpose__slug=slug,
                                       withdrawn_at__isnull=True).update(
            withdrawn_at=timezone.now(), withdrawn_how=how)
        if count:
            # What the withdrawal stops first (queued jobs: their quota counters), the audit
            # chain's head last, as every transaction takes them: no deadlock with a
            # generation that settles its counters, then records its event.
            consent_withdrawn.send(sender=Consent, user=user, purpose=slug)
            details = {"purpose": slug, "how": how} | ({"reason": reason} if reason else {})
            log.record("consent_withdrawn", subject=_subject(user), actor=actor or how,
                       client=client, details=details)
    return count


def publish(slug: str, policy: str, *, title: str | None = None) -> Purpose:
    """A new policy text: a new version, and everyone is asked again."""
    with transaction.atomic():
        purpose = Purpose.objects.select_for_update().get(slug=slug)
        purpose.policy = policy
        purpose.title = title or purpose.title
        purpose.version += 1
        purpose.updated = timezone.now()
        purpose.save()
        log.record("policy_published", actor="admin",
                   details={"purpose": slug, "version": purpose.version})
    return purpose


def history(user: AbstractBaseUser) -> list[Consent]:
    return list(Consent.objects.filter(user=user).select_related("purpose"))


def export(user: AbstractBaseUser, client: str | None = None) -> list[dict[str, object]]:
    """The person's consents; with `client`, those that client recorded (link or API)."""
    return [{"purpose": c.purpose.slug, "version": c.version, "how": c.how,
             "client": c.client or None, "evidence": c.evidence or None,
             "granted_at": c.granted_at.isoformat(),
             "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
             "withdrawn_how": c.withdrawn_how or None} for c in history(user)
            if client is None or c.client == client]


def anonymise(user: AbstractBaseUser, receipt_id: object, client: str | None = None) -> int:
    """Erasure: keep the rows as anonymous proof that consent existed, tied to the receipt;
    with `client`, the rows that client recorded only (they no longer count for the person)."""
    rows = Consent.objects.filter(user=user)
    if client is not None:
        rows = rows.filter(client=client)
    return rows.update(user=None, receipt_id=receipt_id)
