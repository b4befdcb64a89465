"""Admin for engines and routes.

An engine's stored API key is write-only here: the form takes a new key and encrypts it, or
clears the stored one, and the page only ever says whether a key is stored. A stored key is
cleared when the engine moves to another host (scheme, host or port) without a new key in the
same edit, so that nobody who may edit engines can point a key they never saw at a server of
theirs (and the API key variable must be an engine key variable: fallbacks.models). The engine
list shows each breaker, which operators may force open or closed (fallbacks.breaker_control
records who and why). The "Test engine" / "Test route" buttons live in the change pages'
templates and post to the console's views (dihya.console.views), which check the same
change permission.
"""

from __future__ import annotations

from typing import Any

from adminsortable2.admin import CustomInlineFormSet, SortableAdminBase, SortableTabularInline
from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from dihya.lib.drop_params import DropParamsAdmin
from fallbacks import breaker_control
from fallbacks.models import Engine, Processor, Route, RouteEngine
from fallbacks.spec import CAPABILITIES


def _formfield(field: models.Field, **kwargs: Any) -> forms.Field | None:
    # Engines are typed in with their scheme; a bare host must not quietly become https.
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "http")
    return field.formfield(**kwargs)


class EngineForm(forms.ModelForm):
    api_key = forms.CharField(
        label="API key", required=False, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again; leave blank to keep the stored "
                  "key. An environment variable (API key variable) is preferred, and wins.")
    clear_api_key = forms.BooleanField(label="Clear stored key", required=False)
    capabilities = forms.MultipleChoiceField(
        choices=[(c, c) for c in CAPABILITIES], required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What this engine can do; none ticked: the provider's defaults. A request "
                  "that needs one it lacks goes to the next engine of the route.")

    class Meta:
        model = Engine
        fields = "__all__"  # noqa: DJ007 - the admin picks the fields; new model fields show up
        formfield_callback = _formfield
        # Units where a number alone would not say them (no migration: the form's words).
        labels = {"connect_timeout": "Connect timeout (seconds)",
                  "read_timeout": "Read timeout (seconds)",
                  "total_timeout": "Total timeout (seconds)"}
        help_texts = {
            "connect_timeout": "Seconds to wait for the connection to the server, e.g. 2.",
            "read_timeout": "Seconds to wait for the first byte (the first token when "
                            "streaming), e.g. 30.",
            "total_timeout": "Seconds one attempt may take in all, answer included, e.g. 120."}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("api_key") and data.get("clear_api_key"):
            self.add_error("clear_api_key", "Enter a new key or clear the stored one, not both.")
        return data

    #: Set by save(): the stored key was cleared because the engine moved to another host.
    key_cleared_for_host = False

    def save(self, commit: bool = True) -> Engine:
        engine = super().save(commit=False)
        key = self.cleaned_data.get("api_key")
        if self.cleaned_data.get("clear_api_key"):
            engine.set_api_key("")
        elif key:
            engine.set_api_key(key)
        if engine.pk is not None:
            # The row as stored, not as the form was first shown: what the key was meant for.
            stored = Engine.objects.filter(pk=engine.pk).values_list("base_url", flat=True)
            if stored:
                self.key_cleared_for_host = engine.clear_key_if_moved(stored[0],
                                                                      new_key=bool(key))
        if commit:
            engine.save()
            self.save_m2m()
        return engine


@admin.register(Engine)
class EngineAdmin(admin.ModelAdmin):
    form = EngineForm
    list_display = ("name", "provider", "model", "base_url", "enabled", "breaker_state",
                    "capability_list", "where", "last_seen_up", "stored_key")
    list_filter = ("provider", "enabled", "processor", "region")
    list_select_related = ("breaker",)
    search_fields = ("name", "model", "base_url")
    readonly_fields = ("stored_key", "last_seen_up")
    formfield_overrides = {models.URLField: {"assume_scheme": "http"}}
    actions = ("force_open", "force_closed")

    def save_model(self, request: HttpRequest, obj: Engine, form: forms.Form,
                   change: bool) -> None:
        super().save_model(request, obj, form, change)
        if getattr(form, "key_cleared_for_host", False):
            self.message_user(request, f"Engine {obj.name}: the stored key was cleared because "
                              "the host changed. Enter the key for the new host, if it needs "
                              "one.", messages.WARNING)

    @admin.display(description="capabilities")
    def capability_list(self, engine: Engine) -> str:
        listed = ", ".join(c for c in CAPABILITIES if c in engine.capability_set())
        return listed if engine.capabilities else f"{listed} (provider defaults)"

    @admin.display(description="processes data", ordering="region")
    def where(self, engine: Engine) -> str:
        """Region, processor kind and masking: where a prompt goes when this engine serves."""
        kind = "third party" if engine.processor == Processor.THIRD_PARTY else "self-hosted"
        return f"{engine.region}, {kind}" + (", masked" if engine.masks else "")

    @admin.display(description="stored key")
    def stored_key(self, engine: Engine) -> str:
        return "stored" if engine.has_stored_key else "none"

    @admin.display(description="breaker", ordering="breaker__state")
    def breaker_state(self, engine: Engine) -> str:
        state = getattr(engine, "breaker", None)
        if state is None:
            return "closed"
        return f"{state.state} ({state.get_reason_display()})" if state.reason else state.state

    @admin.action(description="Force the breaker open (stop sending requests)",
                  permissions=("change",))
    def force_open(self, request: HttpRequest,
                   queryset: QuerySet[Engine]) -> TemplateResponse | None:
        return self._force(request, queryset, "open")

    @admin.action(description="Force the breaker closed (send requests again)",
                  permissions=("change",))
    def force_closed(self, request: HttpRequest,
                     queryset: QuerySet[Engine]) -> TemplateResponse | None:
        return self._force(request, queryset, "closed")

    def _force(self, request: HttpRequest, queryset: QuerySet[Engine],
               state: str) -> TemplateResponse | None:
        """Ask why first (the audit log records who and why), then force."""
        reason = request.POST.get("reason", "").strip()[:300]
        if "apply" not in request.POST or not reason:
            return TemplateResponse(request, "admin/fallbacks/engine/force_breaker.html", {
                **self.admin_site.each_context(request), "opts": self.opts, "state": state,
                "engines": queryset, "action": f"force_{state}",
                "missing_reason": "apply" in request.POST,
                "title": f"Force the breaker {state}",
            })
        for engine in queryset:
            breaker_control.force(engine, state, actor=request.user.get_username(),
                                  reason=reason)
        self.message_user(request, f"{len(queryset)} breaker(s) forced {state}.",
                          messages.SUCCESS)
        return None


class StepFormSet(CustomInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if self.instance.strategy != "weighted":
            return
        kept = [f.cleaned_data for f in self.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if kept and not any(data.get("weight") for data in kept):
            raise forms.ValidationError("Every weight is 0: a weighted route needs an engine "
                                        "with a weight above 0 (0 means standby).")


class RouteEngineInline(SortableTabularInline):
    """The fallback order: drag rows to reorder; the next request uses the new order. The
    weight beside each engine is its share under the 'weighted' strategy (0: standby)."""

    model = RouteEngine
    formset = StepFormSet
    fields = ("engine", "weight")
    extra = 0


@admin.register(Route)
class RouteAdmin(DropParamsAdmin, SortableAdminBase, admin.ModelAdmin):
    inlines = (RouteEngineInline,)
    list_display = ("name", "fallback_order", "alias_list", "strategy", "max_tokens",
                    "embedding_dimension", "description")
    list_filter = ("strategy",)
    search_fields = ("name", "description")

    def save_related(self, request: HttpRequest, form: forms.ModelForm,
                     formsets: Any, change: bool) -> None:
        """Save the steps, and say what the fallback order is now when it changed (a drop
        saves the page at once: the admin must see that it did)."""
        route = form.instance
        before = self.order_of(route) if change else []
        super().save_related(request, form, formsets, change)
        after = self.order_of(route)
        if change and after != before:
            messages.success(request, "Fallback order saved: " + (" → ".join(after) or "no "
                             "engine") + ". The next request uses it.")

    @staticmethod
    def order_of(route: Route) -> list[str]:
        return list(route.steps.order_by("position", "id").values_list("engine__name", flat=True))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Route]:
        steps = RouteEngine.objects.select_related("engine").order_by("position", "id")
        return super().get_queryset(request).prefetch_related(Prefetch("steps", queryset=steps))

    @admin.display(description="aliases")
    def alias_list(self, route: Route) -> str:
        return ", ".join(map(str, route.aliases or ())) or "—"

    @admin.display(description="fallback order")
    def fallback_order(self, route: Route) -> str:
        weighted = route.strategy == "weighted"
        return " → ".join(step.engine.name + (f" (weight {step.weight})" if weighted else "")
                          + ("" if step.engine.enabled else " (disabled)")
                          for step in route.steps.all()) or "—"
