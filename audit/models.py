"""Consent records and the tamper-evident audit log.

Consent rows are proof (GDPR art. 7(1)): they are never edited except to note a withdrawal,
and erasure reduces them to an anonymous receipt instead of deleting them. Audit events
name people only by pseudonym (`dihya.lib.pseudonyms`), hold redacted text only, and are
chained under a key (`DIHYA_AUDIT_KEY`) over two digests of their content, one of what erasure
keeps and one of what it clears, so that erasing the personal parts of an event later keeps
the chain verifiable (see `audit.log`).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Purpose(models.Model):
    """Something people consent to, with the policy text in force and its version."""

    slug = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=200)
    policy = models.TextField(help_text="What the person agrees to, in plain language.")
    version = models.PositiveIntegerField(
        default=1, help_text="Raised when the policy changes: consents to older versions lapse.")
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.slug} v{self.version}"


class Consent(models.Model):
    """One grant of one version of a purpose; withdrawn_at set when withdrawn."""

    class How(models.TextChoices):
        PRIVACY_PAGE = "privacy page", _("privacy page")
        ADMIN = "admin", _("admin")
        API = "api", _("API")
        LINK = "consent link", _("consent link")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="consents")
    purpose = models.ForeignKey(Purpose, on_delete=models.PROTECT, related_name="consents")
    version = models.PositiveIntegerField()
    granted_at = models.DateTimeField(default=timezone.now)
    how = models.CharField(max_length=20, choices=How.choices)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_how = models.CharField(max_length=20, choices=How.choices, blank=True)
    client = models.CharField(max_length=64, blank=True,
                              help_text="The client whose consent link or API call recorded it.")
    evidence = models.CharField(max_length=500, blank=True,
                                help_text="What the client says it showed the person (API).")
    receipt = models.ForeignKey("ErasureReceipt", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="consents",
                                help_text="Set when the person was erased: the row is anonymous.")

    class Meta:
        ordering = ["-granted_at", "-id"]
        indexes = [models.Index(fields=["user", "purpose", "version"])]
        constraints = [models.UniqueConstraint(
            fields=["user", "purpose", "version"],
            condition=Q(withdrawn_at__isnull=True, user__isnull=False),
            name="audit_one_open_consent_per_version")]

    def __str__(self) -> str:
        state = "withdrawn" if self.withdrawn_at else "granted"
        return f"{self.purpose.slug} v{self.version} {state}"


class ExternalIdentity(models.Model):
    """The id a client application knows a person by: valid at that client only.

    The same string at two clients is two people. An identity with no client is one an admin
    declared for every client (how identities were linked before they were per client).
    """

    class Source(models.TextChoices):
        ADMIN = "admin", _("admin")
        LINK = "consent link", _("consent link")
        API = "api", _("API")
        SSO = "sso", _("identity provider")  # external_id is the provider's `sub`

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="external_identities")
    client_id = models.PositiveIntegerField(
        null=True, blank=True, db_index=True,
        help_text="The API client (its id) that knows the person by this id; empty: every client.")
    external_id = models.CharField(max_length=256,
                                   help_text="The `user` value a client sends for this person.")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.ADMIN)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "external id"
        constraints = [
            models.UniqueConstraint(fields=["client_id", "external_id"],
                                    name="audit_one_person_per_client_id"),
            models.UniqueConstraint(fields=["external_id"], condition=Q(client_id__isnull=True),
                                    name="audit_one_person_per_global_id")]

    def __str__(self) -> str:
        return self.external_id


class ConsentLink(models.Model):
    """A personal link to the consent page, for one person of one client: stored as a digest.

    The raw token is in the URL only (256 random bits, so a SHA-256 is enough, as for API
    keys). It is spent by the person's answer, not by opening it (mail scanners open links).
    """

    digest = models.CharField(max_length=64, unique=True)
    client_id = models.PositiveIntegerField(db_index=True)
    client_name = models.CharField(max_length=64)
    external_id = models.CharField(max_length=256)
    purpose = models.SlugField(max_length=40)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(db_index=True)
    used = models.DateTimeField(null=True, blank=True)
    answer = models.CharField(max_length=10, blank=True, help_text="agreed or declined")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.CASCADE, related_name="consent_links",
                             help_text="The person, once known.")

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["client_id", "external_id"])]

    def __str__(self) -> str:
        return f"link for {self.client_name} {self.created:%Y-%m-%d %H:%M}"


class AuditEvent(models.Model):
    """One thing that happened. Its fields feed two digests; `hash` chains them (`audit.log`)."""

    kind = models.CharField(max_length=32, db_index=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    subject = models.CharField(max_length=64, blank=True, db_index=True,
                               help_text="Pseudonym of the person concerned.")
    person = models.CharField(
        max_length=64, blank=True, db_index=True,
        help_text="Pseudonym of the person at the client (`audit.log.person_of`): what exports "
                  "and erasures select by. Derived from kind, client and subject, outside the "
                  "digests.")
    actor = models.CharField(max_length=150, blank=True)
    client = models.CharField(max_length=64, blank=True)
    route = models.CharField(max_length=64, blank=True)
    engine = models.CharField(max_length=64, blank=True)
    generation_id = models.UUIDField(null=True, blank=True, db_index=True)
    attempts = models.JSONField(default=list, blank=True,
                                help_text="[{engine, outcome, latency_ms}] in order.")
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=32, blank=True)
    details = models.JSONField(default=dict, blank=True)
    salt = models.CharField(max_length=32, blank=True,
                            help_text="Random: keeps the digest from identifying the content.")
    erased = models.DateTimeField(null=True, blank=True,
                                  help_text="When the personal content was erased.")
    scheme = models.PositiveSmallIntegerField(
        default=2, help_text="How it is chained: 2 keyed, 1 written before the chain had a key.")
    prev_hash = models.CharField(max_length=64)
    content_digest = models.CharField(
        max_length=64, help_text="Scheme 2: of the public fields, which erasure keeps. "
                                 "Scheme 1: of all the content.")
    personal_digest = models.CharField(
        max_length=64, blank=True, help_text="Scheme 2: of subject, actor, details and salt.")
    seal = models.CharField(
        max_length=64, blank=True,
        help_text="Scheme 1: keyed seal of the hash and public fields, made by migration 0003.")
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["kind", "created"])]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.created:%Y-%m-%d %H:%M:%S}"


class AuditChain(models.Model):
    """The chain's head: the lock writers take, and what a deleted tail is checked against.

    `base_hash` is the `prev_hash` of the oldest event kept, moved forward by retention.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_hash = models.CharField(max_length=64)
    base_hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"head {self.last_hash[:12]}"


class ErasureReceipt(models.Model):
    """Proof that a person's data was erased, with counts only: nothing about who they were."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    by = models.CharField(max_length=20, help_text="self, admin or command")
    counts = models.JSONField(default=dict)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"erasure {self.id} {self.created:%Y-%m-%d}"
