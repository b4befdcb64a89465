"""Admin for generations (read-only, with their attempts) and API clients and keys.

A generation's page follows it live and shows its attempts as a timeline
(templates/admin/gateway/generation/, static/dihya/live.js); queued and running rows of the
list update in place.

Generations are records, not configuration: nobody edits them here. Keys are created and
revoked through the key verbs (dihya.gateway.keys): the new key is rendered once in the
answer to the add form — never put in a message, which would travel in a cookie — and
afterwards shown by prefix only; the digest is never displayed.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from dihya.gateway import keys
from dihya.gateway.models import ApiClient, ApiKey, Attempt, Delivery, Generation


class ReadOnly:
    """Viewable by those with the view permission; never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AttemptInline(ReadOnly, admin.TabularInline):
    model = Attempt
    fields = ("position", "engine_name", "outcome", "latency_ms", "status_code", "detail",
              "created")
    readonly_fields = fields
    extra = 0


@admin.register(Generation)
class GenerationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("created", "route_name", "live_status", "engine_name", "source", "client",
                    "tokens", "latency", "error_code")
    list_filter = ("status", "kind", "route_name", "engine_name", "source", "created")
    list_select_related = ("client",)
    search_fields = ("end_user", "error_code")
    show_full_result_count = False  # no COUNT(*) over every generation on each page
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = (AttemptInline,)
    readonly_fields = ("trace",)

    @admin.display(description="status", ordering="status")
    def live_status(self, generation: Generation) -> str:
        # Queued and running rows are updated in place by dihya/live.js.
        return format_html('<span class="dihya-badge dihya-status-{0}" data-generation="{1}" '
                           'data-status="{0}">{0}</span>', generation.status, generation.pk)

    @admin.display(description="tokens")
    def tokens(self, generation: Generation) -> str:
        return f"{generation.prompt_tokens}+{generation.completion_tokens}"

    @admin.display(description="latency")
    def latency(self, generation: Generation) -> str:
        ms = generation.latency_ms
        return "—" if ms is None else f"{ms:.0f} ms"

    @admin.display(description="trace")
    def trace(self, generation: Generation) -> str:
        """The OpenTelemetry trace, linked to the tracing UI if DIHYA_TRACE_URL says where."""
        if not generation.trace_id:
            return "—"
        if not settings.DIHYA_TRACE_URL:
            return generation.trace_id
        return format_html('<a href="{}" rel="noopener">{}</a>',
                           settings.DIHYA_TRACE_URL.format(trace_id=generation.trace_id),
                           generation.trace_id)


class ApiKeyInline(ReadOnly, admin.TabularInline):
    model = ApiKey
    fields = ("prefix", "name", "created", "expires", "revoked", "last_used")
    readonly_fields = fields
    extra = 0


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """A client's signing secret is shown once: when the client is added, and each time it is
    rotated (an action); the page showing it is not cached, and nothing else displays it."""

    list_display = ("name", "active", "end_users", "user_ids", "allowed_routes", "residency",
                    "key_count", "signing")
    list_filter = ("active", "end_users", "user_ids", "third_party")
    search_fields = ("name",)
    filter_horizontal = ("routes",)
    inlines = (ApiKeyInline,)
    actions = ("rotate_signing_secrets",)

    def save_model(self, request: HttpRequest, obj: ApiClient, form: Any, change: bool) -> None:
        if not change:
            request._dihya_new_secrets = [(obj, obj.new_signing_secret())]  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiClient,
                     post_url_continue: str | None = None) -> HttpResponse:
        return self.show_secrets(request, request._dihya_new_secrets,  # type: ignore[attr-defined]
                                 "API client created: its signing secret")

    @admin.display(description="data may go to")
    def residency(self, client: ApiClient) -> str:
        regions = ", ".join(client.regions) if client.regions else "any region"
        return regions + ("" if client.third_party else "; self-hosted engines only")

    @admin.action(description="Rotate the signing secret of the selected clients",
                  permissions=["change"])
    def rotate_signing_secrets(self, request: HttpRequest,
                               queryset: QuerySet[ApiClient]) -> HttpResponse:
        shown = []
        for client in queryset:
            shown.append((client, client.new_signing_secret()))
            client.save(update_fields=["signing_secret"])
        return self.show_secrets(request, shown, "New signing secrets")

    def show_secrets(self, request: HttpRequest, shown: list[tuple[ApiClient, str]],
                     title: str) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "secrets": shown, "title": title}
        response = TemplateResponse(request, "admin/gateway/apiclient/signing_secrets.html",
                                    context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.display(description="signing secret")
    def signing(self, client: ApiClient) -> str:
        return "own" if client.signing_secret else "shared (DIHYA_WEBHOOK_SECRET): rotate"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiClient]:
        return (super().get_queryset(request).prefetch_related("routes")
                .annotate(key_count=Count("keys")))

    @admin.display(description="routes")
    def allowed_routes(self, client: ApiClient) -> str:
        return ", ".join(route.name for route in client.routes.all()) or "—"

    @admin.display(description="keys", ordering="key_count")
    def key_count(self, client: ApiClient) -> int:
        return client.key_count  # type: ignore[attr-defined]


class NewKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("client", "name", "expires", "allows_chat", "allows_jobs", "allows_consent",
                  "allows_people")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "client", "name", "scope_list", "created", "expires", "revoked",
                    "last_used", "usable")
    list_filter = ("client", "allows_chat", "allows_jobs", "allows_consent", "allows_people")
    list_select_related = ("client",)
    search_fields = ("prefix", "name", "client__name")
    readonly_fields = ("client", "prefix", "name", "allows_chat", "allows_jobs", "allows_consent",
                       "allows_people", "created", "expires", "revoked", "last_used")
    actions = ("revoke_keys",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False,
                 **kwargs: Any) -> Any:
        if obj is None:  # the add form: what a new key needs, nothing it derives
            kwargs["form"] = NewKeyForm
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else NewKeyForm.Meta.fields

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # a key is revoked, not edited

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        key, raw = keys.issue(obj.client, name=obj.name, expires=obj.expires, scopes=obj.scopes)
        obj.pk = key.pk
        obj.prefix = key.prefix
        request._dihya_new_key = raw  # type: ignore[attr-defined]  # for response_add only

    def response_add(self, request: HttpRequest, obj: ApiKey,
                     post_url_continue: str | None = None) -> HttpResponse:
        context = {**self.admin_site.each_context(request), "opts": self.opts, "key": obj,
                   "raw": request._dihya_new_key,  # type: ignore[attr-defined]
                   "title": "API key created"}
        response = TemplateResponse(request, "admin/gateway/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Revoking is the usual way out; deleting stays possible so a client can be deleted.
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    @admin.action(description="Revoke the selected keys now", permissions=["revoke"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        done = sum(keys.revoke(key) for key in queryset)
        self.message_user(request, f"{done} key(s) revoked; they stopped working at once.",
                          messages.SUCCESS)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("gateway.delete_apikey")

    @admin.display(description="scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(sorted(key.scopes)) or "none"

    @admin.display(boolean=True, description="usable")
    def usable(self, key: ApiKey) -> bool:
        return key.is_usable


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, admin.ModelAdmin):
    """The log of every notification sent: job callbacks and quota alerts. Never the body."""

    list_display = ("created", "kind", "channel", "target", "status", "attempts",
                    "response_code", "error", "next_attempt")
    list_filter = ("kind", "channel", "status", "created")
    list_select_related = ("client",)
    search_fields = ("target", "generation_id", "alert_id")
    fields = ("kind", "channel", "target", "client", "generation_id", "alert_id", "status",
              "attempts", "response_code", "error", "next_attempt", "created", "updated")
    readonly_fields = fields
    show_full_result_count = False
