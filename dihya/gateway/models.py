"""The gateway's own records: who may call (clients and their keys) and what was asked
(generations and their attempts).

A `Generation` row is the truth about a job: django-q2's task tables are plumbing that gets
pruned, and a task carries only a generation's id, never its prompt, so that consent
withdrawal and erasure reach every copy of it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from dihya.lib import sealing
from fallbacks.models import NAME_VALIDATOR, REGION, Engine, Route

SIGNING_PREFIX = "whsec_"


class ApiClient(models.Model):
    """An internal application allowed to call the API.

    Each has its own secret signing its job callbacks (sealed, see `dihya.lib.sealing`), so
    that no client can sign a callback another would believe. A client from before those
    secrets has none until one is rotated in; its callbacks are signed with the deployment's
    DIHYA_WEBHOOK_SECRET meanwhile (dihya.gateway.deliveries.secret_for)."""

    name = models.CharField(max_length=64, unique=True, validators=[NAME_VALIDATOR])
    active = models.BooleanField(default=True)
    routes = models.ManyToManyField(Route, blank=True, related_name="clients",
                                    help_text="Routes this client may use.")
    end_users = models.BooleanField(
        "serves end users", default=False,
        help_text="Calls are made on behalf of people: their consent is required.")
    user_ids = models.CharField(
        "`user` values are", max_length=10, default="client",
        choices=[("client", "the client's own ids (people of this client only)"),
                 ("username", "Dihya usernames (the identity provider's preferred_username)"),
                 ("email", "e-mail addresses of Dihya accounts"),
                 ("sub", "the identity provider's `sub` of people who signed in with it")],
        help_text="How the client names people in `user`. Its own ids reach only people it "
                  "has met (through a consent link or the consent API) or an admin linked.")
    drop_params = models.JSONField(
        default=list, blank=True,
        help_text="Request fields this client's calls drop (and report in "
                  "X-Dihya-Dropped-Params) instead of being refused with unsupported_parameter, "
                  "on every route, besides those the route drops: for an app whose SDK always "
                  "sends a field no engine honours, e.g. logit_bias.")
    # Residency (fallbacks.egress): where this client's calls may be processed.
    regions = models.JSONField(
        default=list, blank=True,
        help_text="Regions its calls may reach, matched exactly against engines' regions, "
                  'e.g. ["local", "EU"] (blank: any region).')
    third_party = models.BooleanField(
        "third-party engines allowed", default=True,
        help_text="Whether its calls may reach engines run by a third party (hosted APIs).")
    created = models.DateTimeField(auto_now_add=True)
    signing_secret = models.TextField(blank=True, editable=False,
                                      help_text="Sealed secret signing its job callbacks.")

    class Meta:
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding and not self.signing_secret:  # every new client has its own
            self.new_signing_secret()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if not isinstance(self.regions, list) or not all(
                isinstance(r, str) and REGION.match(r) for r in self.regions):
            raise ValidationError({"regions": 'A list of regions, e.g. ["local", "EU"].'})

    def new_signing_secret(self) -> str:
        """Give the client a new signing secret (saved by the caller) and return it, the one
        time it is seen in clear."""
        raw = sealing.new_secret(SIGNING_PREFIX)
        self.signing_secret = sealing.seal(sealing.SIGNING_SECRETS, raw)
        return raw

    def signing_key(self) -> str | None:
        """The client's own signing secret in clear, or None if it has none (an old client)."""
        if not self.signing_secret:
            return None
        return sealing.unseal(sealing.SIGNING_SECRETS, self.signing_secret)


class ApiKey(models.Model):
    """A bearer key, stored only as its SHA-256 (keys are 256-bit random, so no slow hash)."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    allows_chat = models.BooleanField(
        "chat scope", default=True, help_text="May call /v1/chat/completions and /v1/models.")
    allows_jobs = models.BooleanField(
        "jobs scope", default=True, help_text="May submit, read and cancel queued jobs.")
    allows_consent = models.BooleanField(
        "consent scope", default=False,
        help_text="May record, read and withdraw its people's consents and ask for consent links.")
    allows_people = models.BooleanField(
        "people scope", default=False,
        help_text="May export and erase its people's data on their behalf.")
    last_used = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.client})"

    SCOPES = ("chat", "jobs", "consent", "people")

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(s for s in self.SCOPES if getattr(self, f"allows_{s}"))

    @classmethod
    def scope_fields(cls, scopes: frozenset[str]) -> dict[str, bool]:
        """The boolean columns for a set of scope names: {"allows_chat": True, ...}."""
        return {f"allows_{s}": s in scopes for s in cls.SCOPES}

    @property
    def is_usable(self) -> bool:
        now = timezone.now()
        return self.revoked is None and (self.expires is None or self.expires > now)


class Generation(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Source(models.TextChoices):
        CHAT = "chat", "API: chat completions, embeddings"
        JOB = "job", "API: jobs"
        BATCH = "batch", "API: batches"
        COMMAND = "command", "generate command"
        ADMIN = "admin", "admin test"

    class Kind(models.TextChoices):
        CHAT = "chat", "chat completion"
        EMBEDDINGS = "embeddings", "embeddings"

    TERMINAL = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=10, choices=Source.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CHAT,
                            help_text="What was asked: a chat completion, or embeddings (then "
                            "`result` says how many vectors of what length, not the vectors).")
    client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="generations")
    end_user = models.CharField(max_length=256, blank=True, db_index=True,
                                help_text="The `user` the client sent.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="generations")
    route = models.ForeignKey(Route, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="generations")
    route_name = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    stream = models.BooleanField(default=False)
    request = models.JSONField(default=dict, help_text="Messages and parameters.")
    result = models.TextField(blank=True)
    tool_calls = models.JSONField(default=list, blank=True,
                                  help_text="The tool calls of the answer: id, name, arguments.")
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    engine = models.ForeignKey(Engine, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="served")
    engine_name = models.CharField(max_length=64, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    callback_url = models.URLField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    heartbeat = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of a long stream (the reaper waits).")
    deliveries = models.PositiveSmallIntegerField(
        default=0, help_text="How many times a worker picked the job up.")
    trace_id = models.CharField(max_length=32, blank=True, default="",
                                help_text="OpenTelemetry trace id (empty: tracing was off).")

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["status", "created"]),
            models.Index(fields=["client", "created"]),
            models.Index(fields=["engine", "created"]),
        ]

    def __str__(self) -> str:
        return f"{self.route_name} {self.status} {self.id}"

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def latency_ms(self) -> float | None:
        if self.started and self.finished:
            return (self.finished - self.started).total_seconds() * 1000
        return None


class JobVectors(models.Model):
    """The vectors of a queued embeddings job, kept until the client reads them (a live call's
    are answered and never stored). Go with their generation: erased and purged with it."""

    generation = models.OneToOneField(Generation, primary_key=True, on_delete=models.CASCADE,
                                      related_name="vectors")
    vectors = models.JSONField(default=list)

    class Meta:
        verbose_name = "job vectors"
        verbose_name_plural = "job vectors"

    def __str__(self) -> str:
        return f"vectors of {self.generation_id}"


class Attempt(models.Model):
    """One try of one engine for one generation: the fallback history."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="attempts")
    engine = models.ForeignKey(Engine, null=True, on_delete=models.SET_NULL,
                               related_name="attempts")
    engine_name = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=32)
    latency_ms = models.FloatField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=500, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["generation", "id"]
        indexes = [models.Index(fields=["engine", "created"])]

    def __str__(self) -> str:
        return f"{self.engine_name}: {self.outcome}"

    def as_report(self) -> dict[str, object]:
        """The attempt as the jobs API, callbacks, the console and exports show it."""
        return {"position": self.position, "engine": self.engine_name, "outcome": self.outcome,
                "latency_ms": round(self.latency_ms, 1), "status_code": self.status_code,
                "detail": self.detail}


class Delivery(models.Model):
    """One outbound notification — a job's callback, a quota alert by webhook or by e-mail —
    with every attempt counted: the one log of what Dihya sent where (dihya.gateway.deliveries).

    The payload is what is sent, frozen when the notification is raised, so a retry sends the
    same body. A callback's payload holds the job's answer: erasure deletes the deliveries of
    a person's generations with them.
    """

    class Kind(models.TextChoices):
        CALLBACK = "job.callback", "job callback"
        ALERT = "quota.alert", "quota alert"

    class Channel(models.TextChoices):
        WEBHOOK = "webhook"
        EMAIL = "email"

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEBHOOK)
    target = models.CharField(max_length=500, help_text="The URL, or the e-mail recipients.")
    client = models.ForeignKey(ApiClient, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="deliveries")
    generation_id = models.UUIDField(null=True, blank=True, db_index=True)
    alert_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    next_attempt = models.DateTimeField(null=True, blank=True)
    sending_until = models.DateTimeField(
        null=True, blank=True, db_index=True, editable=False,
        help_text="A worker is sending it (a lease: past this, that worker is gone).")
    created = models.DateTimeField(default=timezone.now, db_index=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt"])]

    def __str__(self) -> str:
        return f"{self.kind} → {self.target}: {self.status}"


class StoredResponse(models.Model):
    """A Responses API answer kept for `GET /v1/responses/{id}` and `previous_response_id`
    (unless the client sent `store: false`). Personal data like its generation: per client,
    in the person's export, erased with them, purged after DIHYA_RETENTION_DAYS["response"].
    `items` is the whole conversation the answer continued (the inputs of the responses it
    follows included), so that a chain survives the deletion of a response in its middle."""

    id = models.CharField(primary_key=True, max_length=64, help_text="resp_<generation>")
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE,
                               related_name="stored_responses")
    generation = models.OneToOneField(Generation, on_delete=models.CASCADE,
                                      related_name="stored_response")
    end_user = models.CharField(max_length=256, blank=True, help_text="The `user` sent.")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="stored_responses")
    items = models.JSONField(default=list, help_text="The input items of the conversation.")
    response = models.JSONField(default=dict, help_text="The Response object answered.")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.id
