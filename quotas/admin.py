"""Admin for quotas: plans with their limits, assignments, usage per subject, alerts.

Counters and reservations are read-only here: they are the ledger's own records,
changed only by its conditional updates. Subjects are pseudonyms; nothing here shows a
`user` string a client sent.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from quotas import alerts
from quotas.models import Alert, Assignment, Counter, EnginePrice, Limit, Plan


class ThresholdsField(forms.CharField):
    """`50, 80, 100` in the form, [50, 80, 100] in the database."""

    def prepare_value(self, value: Any) -> str:
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return super().prepare_value(value)

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        text = super().to_python(value) or ""
        try:
            thresholds = sorted({int(part) for part in text.replace(";", ",").split(",")
                                 if part.strip()})
        except ValueError:
            raise forms.ValidationError("Whole percentages separated by commas.") from None
        if any(not 0 < t <= 1000 for t in thresholds):
            raise forms.ValidationError("Each threshold is between 1 and 1000 %.")
        return thresholds


class PlanForm(forms.ModelForm):
    alerts = ThresholdsField(label="Alert thresholds (%)", required=False,
                             help_text="e.g. 50, 80, 100 — percentages of each limit.")

    class Meta:
        model = Plan
        fields = ("name", "is_default", "alerts")


class LimitInline(admin.TabularInline):
    model = Limit
    extra = 1


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    form = PlanForm
    inlines = [LimitInline]
    list_display = ("name", "is_default", "limit_summary", "thresholds", "assigned")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        return (super().get_queryset(request).prefetch_related("limits")
                .annotate(assigned_count=Count("assignments")))

    @admin.display(description="limits")
    def limit_summary(self, plan: Plan) -> str:
        return "; ".join(str(limit) for limit in plan.limits.all()) or "—"

    @admin.display(description="alerts at")
    def thresholds(self, plan: Plan) -> str:
        return ", ".join(f"{t} %" for t in plan.alerts) or "—"

    @admin.display(description="assignments", ordering="assigned_count")
    def assigned(self, plan: Plan) -> int:
        return plan.assigned_count  # type: ignore[attr-defined]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ("__str__", "plan", "client", "user")
    list_select_related = ("plan", "client", "user")
    list_filter = ("plan",)
    autocomplete_fields = ("user",)
    search_fields = ("client__name", "user__username", "plan__name")


@admin.register(EnginePrice)
class EnginePriceAdmin(admin.ModelAdmin):
    list_display = ("engine", "input_per_million", "output_per_million")
    list_select_related = ("engine",)


@admin.register(Counter)
class CounterAdmin(admin.ModelAdmin):
    """Usage per subject and window."""

    list_display = ("subject", "metric", "period", "window_start", "used")
    list_filter = ("metric", "period")
    search_fields = ("subject",)
    date_hierarchy = "window_start"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("created", "kind", "subject", "message", "delivered", "acknowledged")
    list_filter = ("kind", ("acknowledged", admin.EmptyFieldListFilter), "metric", "period")
    search_fields = ("subject", "message")
    date_hierarchy = "created"
    actions = ["acknowledge"]
    readonly_fields = ("kind", "subject", "metric", "period", "threshold", "window_start",
                       "amount", "used", "message", "created", "acknowledged",
                       "acknowledged_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="deliveries")
    def delivered(self, alert: Alert) -> str:
        # The deliveries are the gateway's records (one log for every notification).
        url = reverse("admin:gateway_delivery_changelist") + f"?alert_id={alert.pk}"
        return format_html('<a href="{}">log</a>', url)

    @admin.action(description="Acknowledge selected alerts")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        count = alerts.acknowledge(queryset, request.user.get_username())
        self.message_user(request, f"{count} alert(s) acknowledged.", messages.SUCCESS)
