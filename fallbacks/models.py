"""Engines and the routes that chain them.

An engine is one model on one server; a route is an ordered list of engines that a client asks
for by name (the `model` field of an OpenAI request). Rows here are configuration only: the
runner works on immutable snapshots (`fallbacks.spec`) so that a request in flight never sees
half of an admin's edit.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from fallbacks import aliases as route_aliases
from fallbacks import secrets
from fallbacks.providers import registry
from fallbacks.spec import CAPABILITIES
from fallbacks.strategies import registry as strategies

NAME_VALIDATOR = RegexValidator(
    r"^[a-zA-Z0-9][a-zA-Z0-9._:-]{0,63}$",
    "Letters, digits, '.', '_', ':' and '-' only, at most 64 characters.",
)

# Which environment variables an engine may read its key from. `.env` is loaded into the
# environment, so without a rule an Operator could name SECRET_KEY (or DATABASE_URL, ...) and
# have it sent as a bearer token to a host of theirs.
ENGINE_KEY_PREFIX = "DIHYA_ENGINE_KEY_"
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Variables Dihya reads for itself: never an engine's key, even if DIHYA_ENGINE_KEY_VARIABLES
# lists one (besides these, any DIHYA_* or DJANGO_* outside the prefix). The list itself
# happens to start with the prefix.
OWN_VARIABLES = frozenset({"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "EMAIL_URL",
                           "DIHYA_ENGINE_KEY_VARIABLES"})
KEY_VARIABLE_RULE = (f"an engine reads its key only from a variable whose name starts with "
                     f"{ENGINE_KEY_PREFIX} or that DIHYA_ENGINE_KEY_VARIABLES lists")


def own_variable(name: str) -> bool:
    """Whether Dihya itself reads `name` (so it must never leave as an engine's key)."""
    return name in OWN_VARIABLES or (name.startswith(("DIHYA_", "DJANGO_"))
                                     and not name.startswith(ENGINE_KEY_PREFIX))


def key_variable_allowed(name: str) -> bool:
    """DIHYA_ENGINE_KEY_<something>, or a variable the deployer lists; never one of ours."""
    if not VARIABLE_NAME.match(name) or own_variable(name):
        return False
    if name.startswith(ENGINE_KEY_PREFIX):
        return len(name) > len(ENGINE_KEY_PREFIX)
    return name in {v.strip() for v in getattr(settings, "DIHYA_ENGINE_KEY_VARIABLES", [])}


def validate_key_variable(name: str) -> None:
    """The field's validator. The message never repeats the name: someone may have pasted
    the key itself into the field."""
    if name and not key_variable_allowed(name):
        raise ValidationError(f"Not an engine key variable: {KEY_VARIABLE_RULE} "
                              f"(e.g. {ENGINE_KEY_PREFIX}MISTRAL).", code="key_variable")


class KeyVariableError(secrets.SecretError):
    """An engine names a variable it may not read (a row written before the rule, or by a
    raw UPDATE). Like an undecryptable key, the catalog makes the engine not configured."""


DEFAULT_PORTS: dict[str, int | str] = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | str]:
    """Scheme, host and port of `url` (the port made explicit): where a key would be sent."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    port: int | str
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme, "")
    except ValueError:  # not a number: compare it as written
        port = parts.netloc.rpartition(":")[2]
    return scheme, (parts.hostname or "").lower(), port


REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
REGION_VALIDATOR = RegexValidator(REGION,
                                  "Letters, digits, '_' and '-' only, e.g. local, EU, US, FR.")


class Processor(models.TextChoices):
    SELF_HOSTED = "self_hosted", "self-hosted (run by the organisation)"
    THIRD_PARTY = "third_party", "third-party processor (hosted API)"


class Engine(models.Model):
    name = models.CharField(max_length=64, unique=True, validators=[NAME_VALIDATOR])
    provider = models.CharField(max_length=32, choices=registry.choices)
    base_url = models.URLField(max_length=300, help_text="e.g. http://127.0.0.1:8081/v1")
    model = models.CharField(max_length=200, help_text="The model name the server expects.")
    api_key_env = models.CharField(
        "API key variable",
        max_length=100,
        blank=True,
        validators=[validate_key_variable],
        help_text=f"Name of an environment variable that holds the key (preferred): it must "
                  f"start with {ENGINE_KEY_PREFIX} or be listed in DIHYA_ENGINE_KEY_VARIABLES.",
    )
    api_key_encrypted = models.TextField(blank=True, editable=False)
    connect_timeout = models.FloatField(default=2.0, validators=[MinValueValidator(0.05)])
    read_timeout = models.FloatField(
        default=30.0,
        validators=[MinValueValidator(0.05)],
        help_text="Seconds to wait for the first byte (the first token when streaming).",
    )
    total_timeout = models.FloatField(default=120.0, validators=[MinValueValidator(0.1)])
    enabled = models.BooleanField(default=True)
    max_concurrency = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Most requests this engine serves at once, across all processes "
        "(blank: no cap). A self-hosted llama.cpp has as many as its slots.",
    )
    batch_share = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(1_000_000)],
        help_text="Most batch lines this engine serves at once, across all processes (blank: "
        "no limit; 0: none, live calls only), so that batches leave the rest of its slots to "
        "live calls. A batch line that finds every engine of its route at its share waits.")
    context_window = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Tokens the model takes in all, prompt and answer (blank: unknown). Routes "
        "with 'context fit' on skip it for requests estimated not to fit.")
    capabilities = models.JSONField(
        default=list, blank=True,
        help_text="What this engine can do: " + ", ".join(CAPABILITIES) + " (blank: the "
        "provider's defaults). A request that needs one it lacks goes to the next engine.")
    # Where it processes data (lawful egress, fallbacks.egress): matched exactly against a
    # client's or a person's residency policy; masking decides what personal data leaves.
    region = models.CharField(
        max_length=40, default="local", validators=[REGION_VALIDATOR],
        help_text="Where this engine processes data, matched exactly by clients' policies: "
        "local, EU, US, a country code (FR, DE…).")
    processor = models.CharField(
        max_length=12, choices=Processor.choices, default=Processor.SELF_HOSTED,
        help_text="Run by the organisation, or a hosted API (a third-party processor).")
    mask = models.BooleanField(
        "mask personal data for this engine", null=True, blank=True,
        help_text="Replace names, e-mails, IBANs… by placeholders before the call and restore "
        "them in the answer (blank: on for third-party processors, off for self-hosted).")
    last_seen_up = models.DateTimeField(null=True, blank=True, editable=False,
                                        help_text="Last successful health check.")
    notes = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def capability_set(self) -> frozenset[str]:
        """The capabilities the row lists, or the provider's defaults when it lists none."""
        if self.capabilities:
            return frozenset(self.capabilities)
        try:
            return registry.get(self.provider).capabilities
        except LookupError:
            return frozenset({"chat"})

    @property
    def masks(self) -> bool:
        """Whether personal data is masked before this engine is called: the row's choice, or
        on for a third-party processor and off for a self-hosted engine."""
        if self.mask is None:
            return self.processor == Processor.THIRD_PARTY
        return self.mask

    def clean(self) -> None:
        super().clean()
        unknown = set(self.capabilities or ()) - set(CAPABILITIES)
        if not isinstance(self.capabilities, list) or unknown:
            raise ValidationError({"capabilities": f"Unknown capabilities: "
                                   f"{', '.join(sorted(map(str, unknown)))}; known: "
                                   f"{', '.join(CAPABILITIES)}."})

    def set_api_key(self, plaintext: str) -> None:
        self.api_key_encrypted = secrets.encrypt(plaintext) if plaintext else ""

    @property
    def has_stored_key(self) -> bool:
        return bool(self.api_key_encrypted)

    def clear_key_if_moved(self, stored_base_url: str, *, new_key: bool) -> bool:
        """Clear the stored key if the engine now points at another host (scheme, host or
        port) than `stored_base_url`, unless a new key comes with the edit: a key belongs to
        the server it was typed in for. Returns whether a key was cleared (caller saves)."""
        if new_key or not self.has_stored_key or origin(self.base_url) == origin(stored_base_url):
            return False
        self.set_api_key("")
        return True

    def api_key(self) -> str:
        """The key to send, from the environment first, then the encrypted column.

        Raises KeyVariableError for a variable an engine may not read, whatever the row says
        (the message names the engine and the variable, never its value)."""
        if self.api_key_env:
            if not key_variable_allowed(self.api_key_env):
                raise KeyVariableError(
                    f"engine {self.name!r} names the variable {self.api_key_env!r}, which it "
                    f"may not read: {KEY_VARIABLE_RULE}")
            return os.environ.get(self.api_key_env, "")
        if self.api_key_encrypted:
            return secrets.decrypt(self.api_key_encrypted)
        return ""


class Route(models.Model):
    class Strategy(models.TextChoices):
        """The built-in default; every choice comes from fallbacks.strategies.registry."""

        ORDERED = "ordered", "Ordered (first healthy engine wins)"

    name = models.CharField(
        max_length=64,
        unique=True,
        validators=[NAME_VALIDATOR],
        help_text="What clients send as `model`.",
    )
    strategy = models.CharField(
        max_length=40, choices=strategies.choices, default=Strategy.ORDERED,
        help_text="How a request picks the order of engines (see docs/resilience.md); "
        "breakers, slots and retries apply whatever the strategy.")
    context_fit = models.BooleanField(
        default=False, help_text="Skip engines whose context window the request is estimated "
        "not to fit (prompt + max_tokens), before calling them.")
    sticky = models.BooleanField(
        default=False, help_text="Send the same end user (the request's `user`) to the same "
        "engine while it is healthy, for prompt-cache reuse.")
    aliases = models.JSONField(
        default=list, blank=True,
        help_text="Other names clients may send as `model` for this route: exact names, or "
        "patterns where * stands for any characters, e.g. [\"claude-*\", \"gpt-5*\"]. A route's "
        "own name wins, then an exact alias, then the most specific pattern.")
    max_tokens = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Ceiling for max_tokens on this route: a request asking more is refused "
        "(blank: DIHYA_MAX_TOKENS_CEILING). A request asking none gets "
        "DIHYA_DEFAULT_MAX_TOKENS, or this ceiling if lower.",
    )
    description = models.CharField(max_length=200, blank=True)
    # Retry policy (fallbacks.policy): defaults suit most routes.
    server_retries = models.PositiveSmallIntegerField(
        default=1, help_text="Retries of the same engine after a 5xx, before the next engine.")
    retry_backoff = models.FloatField(
        default=0.2, validators=[MinValueValidator(0.0)],
        help_text="Base delay in seconds between those retries (doubled each time, jittered).")
    max_attempts = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(1)],
        help_text="Most engine calls per request, retries and fallbacks together.")
    deadline = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.1)],
        help_text="Seconds a request may take in all (blank: the global job deadline).")
    first_token_timeout = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.05)],
        help_text="Seconds to wait for a stream's first token (blank: the engine's read timeout).")
    when_full = models.CharField(
        max_length=10, choices=[("next", "Go to the next engine"), ("wait", "Wait for a slot")],
        default="next", help_text="What to do when an engine has no free slot.")
    drop_params = models.JSONField(
        default=list, blank=True,
        help_text="Request fields this route drops (and reports in X-Dihya-Dropped-Params) "
        "instead of refusing them with unsupported_parameter, e.g. logit_bias, tools.")
    embedding_dimension = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Length of this route's embedding vectors (blank: recorded from the first "
        "answer). An engine that answers another length is a failed attempt, never mixed in.")
    engines: models.ManyToManyField[Engine, RouteEngine] = models.ManyToManyField(
        Engine, through="RouteEngine", related_name="routes")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        others = dict(Route.objects.exclude(pk=self.pk).values_list("name", "aliases"))
        found = route_aliases.problems(self.name, self.aliases,
                                       {n: a if isinstance(a, list) else [] for n, a in
                                        others.items()})
        errors: dict[str, list[str]] = {}
        for where, message in found:
            errors.setdefault("name" if where == "name" else "aliases", []).append(message)
        if errors:
            raise ValidationError(errors)


class RouteEngine(models.Model):
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="steps")
    engine = models.ForeignKey(Engine, on_delete=models.PROTECT, related_name="steps")
    position = models.PositiveIntegerField(default=0, db_index=True)
    weight = models.PositiveIntegerField(
        default=1, help_text="Share of requests under the 'weighted' strategy (0: standby, "
        "tried only after the weighted engines).")

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["route", "engine"], name="route_engine_once"),
        ]
        verbose_name = "engine in route"
        verbose_name_plural = "fallback order"

    def __str__(self) -> str:
        return f"{self.route} #{self.position}: {self.engine}"


class BreakerState(models.Model):
    """The shared circuit breaker of one engine (see fallbacks.breaker).

    Changed only by conditional UPDATEs, so that any number of processes agree on it.
    """

    class State(models.TextChoices):
        CLOSED = "closed"
        OPEN = "open"
        HALF_OPEN = "half_open", "half-open"

    class Reason(models.TextChoices):
        NONE = "", "-"
        FAILURES = "failures", "consecutive failures"
        QUOTA = "quota", "provider quota / rate limit"
        FORCED = "forced", "forced by an admin"

    engine = models.OneToOneField(Engine, primary_key=True, on_delete=models.CASCADE,
                                  related_name="breaker")
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLOSED)
    reason = models.CharField(max_length=10, choices=Reason.choices, blank=True, default="")
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failures.")
    since = models.DateTimeField(null=True, blank=True)
    until = models.DateTimeField(null=True, blank=True,
                                 help_text="When an open breaker lets a probe through.")
    probe_until = models.DateTimeField(null=True, blank=True,
                                       help_text="Lease of the half-open probe in flight.")
    last_error = models.CharField(max_length=500, blank=True)
    last_failure = models.DateTimeField(null=True, blank=True)
    changed_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "circuit breaker"

    def __str__(self) -> str:
        return f"{self.engine_id}: {self.state}"


class EngineSlot(models.Model):
    """One of an engine's `max_concurrency` slots, leased by a request (fallbacks.slots)."""

    engine = models.ForeignKey(Engine, on_delete=models.CASCADE, related_name="slots")
    number = models.PositiveIntegerField()
    holder = models.CharField(max_length=40, blank=True)
    expires = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["engine", "number"], name="slot_once")]

    def __str__(self) -> str:
        return f"{self.engine_id} slot {self.number}: {self.holder or 'free'}"


class EngineLatency(models.Model):
    """An engine's latency averages (fallbacks.latency), when Redis does not keep them.

    Changed only by conditional UPDATEs that fold a batch of samples into the average."""

    engine = models.OneToOneField(Engine, primary_key=True, on_delete=models.CASCADE,
                                  related_name="latency")
    first_token_ms = models.FloatField(default=0.0, help_text="EWMA of time to first token.")
    first_token_samples = models.PositiveBigIntegerField(default=0)
    per_token_ms = models.FloatField(default=0.0,
                                     help_text="EWMA of latency per output token.")
    per_token_samples = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "engine latency"
        verbose_name_plural = "engine latencies"

    def __str__(self) -> str:
        return f"{self.engine_id}: {self.first_token_ms:.0f} ms first token"
