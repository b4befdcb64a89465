"""Quota plans and the ledger that enforces them.

A plan is a set of limits (requests, tokens or cost per minute, hour, day or month; hard ones
block, soft ones only alert) plus the percentages of each limit at which to alert. A limit on
`batch_requests`, `batch_tokens` or `batch_cost` counts the lines of batches only (the caller
says a call is one, `plans.bounds_for(batch=True)`); the others count every call, batch lines
included. Plans are
assigned to API clients and to Dihya accounts; end users without one get the default plan.

Counting happens in `Counter` rows keyed by (subject, metric, period, window start), changed
only by single conditional UPDATEs (`quotas.ledger`). Subjects are pseudonymous strings,
`client:<id>` or `user:<dihya.lib.pseudonyms.pseudonym(...)>`: no table here ever holds the `user`
string a client sent, nor any prompt.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Metric(models.TextChoices):
    REQUESTS = "requests"
    TOKENS = "tokens", "tokens (prompt + completion)"
    COST = "cost", "cost (millionths of the price unit)"
    # Counted on their own counters, by batch lines only (quotas.bounds.BATCH).
    BATCH_REQUESTS = "batch_requests", "batch lines only: requests"
    BATCH_TOKENS = "batch_tokens", "batch lines only: tokens"
    BATCH_COST = "batch_cost", "batch lines only: cost"


METRIC_HELP = ("batch_… metrics count the lines of batches only (the Batch API); the others "
               "count every call, batch lines included.")


class Period(models.TextChoices):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


def validate_thresholds(value: object) -> None:
    if not isinstance(value, list) or not all(
            isinstance(t, int) and not isinstance(t, bool) and 0 < t <= 1000 for t in value):
        raise ValidationError("A list of whole percentages between 1 and 1000, e.g. [50, 80, 100].")


class Plan(models.Model):
    name = models.CharField(max_length=64, unique=True)
    is_default = models.BooleanField(
        "default for end users", default=False,
        help_text="Applies to end users who have no plan of their own. At most one plan.")
    alerts = models.JSONField(
        "alert thresholds", default=list, blank=True, validators=[validate_thresholds],
        help_text="Percentages of each limit that raise an alert, e.g. [50, 80, 100].")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True),
                                               name="quotas_one_default_plan")]

    def __str__(self) -> str:
        return self.name


class Limit(models.Model):
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="limits")
    metric = models.CharField(max_length=16, choices=Metric.choices, help_text=METRIC_HELP)
    period = models.CharField(max_length=10, choices=Period.choices)
    amount = models.PositiveBigIntegerField()
    hard = models.BooleanField(default=True, help_text="Hard limits block; soft ones only alert.")

    class Meta:
        ordering = ["plan", "metric", "period"]
        constraints = [models.UniqueConstraint(fields=["plan", "metric", "period"],
                                               name="quotas_one_limit_per_metric_period")]

    def __str__(self) -> str:
        kind = "" if self.hard else " (soft)"
        return f"{self.amount} {self.metric} per {self.period}{kind}"


class Assignment(models.Model):
    """A plan given to one API client or one Dihya account (exactly one of the two)."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="assignments")
    client = models.OneToOneField("gateway.ApiClient", null=True, blank=True,
                                  on_delete=models.CASCADE, related_name="quota_assignment")
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True,
                                on_delete=models.CASCADE, related_name="quota_assignment")

    class Meta:
        constraints = [models.CheckConstraint(
            condition=(Q(client__isnull=False, user__isnull=True)
                       | Q(client__isnull=True, user__isnull=False)),
            name="quotas_assignment_client_xor_user")]

    def __str__(self) -> str:
        return f"{self.plan} → {self.client or self.user}"


class EnginePrice(models.Model):
    """What an engine costs, for cost limits. Engines without a price cost nothing."""

    engine = models.OneToOneField("fallbacks.Engine", on_delete=models.CASCADE,
                                  related_name="price")
    input_per_million = models.DecimalField(max_digits=12, decimal_places=4, default=0,
                                            help_text="Price per million prompt tokens.")
    output_per_million = models.DecimalField(max_digits=12, decimal_places=4, default=0,
                                             help_text="Price per million completion tokens.")

    def __str__(self) -> str:
        return f"{self.engine}: {self.input_per_million} / {self.output_per_million}"


class Counter(models.Model):
    """Usage of one subject in one window. Only ever changed by conditional UPDATEs."""

    subject = models.CharField(max_length=80)
    metric = models.CharField(max_length=16, choices=Metric.choices)
    period = models.CharField(max_length=10, choices=Period.choices)
    window_start = models.DateTimeField()
    used = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-window_start", "subject"]
        constraints = [models.UniqueConstraint(fields=["subject", "metric", "period",
                                                       "window_start"],
                                               name="quotas_one_counter_per_window")]

    def __str__(self) -> str:
        return f"{self.subject} {self.metric}/{self.period} @ {self.window_start:%Y-%m-%d %H:%M}"


class Reservation(models.Model):
    """What one generation holds on the counters, so settling and releasing are exact and
    happen once: only the UPDATE that moves `state` away from `reserved` adjusts counters."""

    class State(models.TextChoices):
        RESERVED = "reserved"
        SETTLED = "settled"
        RELEASED = "released"

    generation_id = models.UUIDField(unique=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RESERVED)
    # [[subject, metric, period, window_start ISO, amount, limit], ...]
    held = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        # The open ones, found by when they were made: what seeds the quota tally
        # (quotas.ledger.truth) reads, and few at any time however many closed ones there are.
        indexes = [models.Index(fields=["created"], condition=Q(state="reserved"),
                                name="quotas_reservation_open")]

    def __str__(self) -> str:
        return f"{self.generation_id} {self.state}"


class Alert(models.Model):
    """One per subject, metric, period, threshold and window: the unique constraint is what
    makes it exactly one when concurrent reservations cross the same threshold."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "usage threshold"
        ENGINE_QUOTA = "engine_quota", "engine out of quota"

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.THRESHOLD)
    subject = models.CharField(max_length=80, db_index=True)
    metric = models.CharField(max_length=16, blank=True)
    period = models.CharField(max_length=10, blank=True)
    threshold = models.PositiveSmallIntegerField(default=0)
    window_start = models.DateTimeField()
    amount = models.PositiveBigIntegerField(default=0, help_text="The limit.")
    used = models.BigIntegerField(default=0)
    message = models.CharField(max_length=300)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    acknowledged = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(
            fields=["kind", "subject", "metric", "period", "threshold", "window_start"],
            name="quotas_one_alert_per_window")]

    def __str__(self) -> str:
        return self.message
