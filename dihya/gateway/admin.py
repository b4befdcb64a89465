"""Admin for generations (read-only, with their attempts) and API clients and keys.

A generation's page follows it live and shows its attempts as a timeline
(templates/admin/gateway/generation/, static/dihya/live.js); queued and running rows of the
list update in place.

Generations are records, not configuration: nobody edits them here. What people asked and got
is personal data: superusers see it raw; everyone else with the view permission (Auditors,
Operators) sees the redacted, pseudonymised view the audit log gives them — the person as
their pseudonym at the client, prompts, answers, tool calls and error text redacted
(`audit.redaction`), a callback URL as its host — and cannot search by a person's id.
Generations an operator made in the console ("admin" source) are theirs, and shown raw
(`dihya.gateway.disclosure`).

Keys are created and revoked through the key verbs (dihya.gateway.keys): the new key is
rendered once in the answer to the add form — never put in a message, which would travel in a
cookie — and afterwards shown by prefix only; the digest is never displayed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html

from audit import log
from audit.redaction import redact, redact_data
from dihya.gateway import keys, snippets
from dihya.gateway.disclosure import RAW_FIELDS, redacted_text, sees_raw_content
from dihya.gateway.models import ApiClient, ApiKey, Attempt, Delivery, Generation
from dihya.lib.drop_params import DropParamsAdmin
from dihya.lib.pseudonyms import pseudonym
from quotas.models import Assignment


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

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if sees_raw_content(request.user, obj):
            return fields
        shown = [RAW_FIELDS.get(name, name) if isinstance(name, str) else name
                 for name in fields]
        return [name for name in shown if name]

    def get_search_fields(self, request: HttpRequest) -> Any:
        return self.search_fields if sees_raw_content(request.user) else ("error_code",)

    @admin.display(description="person (pseudonym at the client)")
    def person(self, generation: Generation) -> str:
        if not generation.end_user:
            return "—"
        client = generation.client.name if generation.client else ""
        return log.person_of("generation", client, pseudonym(generation.end_user))

    @admin.display(description="request (redacted)")
    def request_redacted(self, generation: Generation) -> str:
        return json.dumps(redact_data(generation.request), ensure_ascii=False, indent=1)

    @admin.display(description="result (redacted)")
    def result_redacted(self, generation: Generation) -> str:
        return redacted_text(generation)

    @admin.display(description="tool calls (redacted)")
    def tool_calls_redacted(self, generation: Generation) -> str:
        return json.dumps(redact_data(generation.tool_calls), ensure_ascii=False)

    @admin.display(description="error message (redacted)")
    def error_message_redacted(self, generation: Generation) -> str:
        return redact(generation.error_message)

    @admin.display(description="callback host")
    def callback_host(self, generation: Generation) -> str:
        return urlsplit(generation.callback_url).hostname or "—"

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
    """Listed here; created from the page's "Create an API key" button (the key's own form)."""

    model = ApiKey
    fields = ("prefix", "name", "scope_list", "created", "expires", "revoked", "last_used")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    @admin.display(description="scopes")
    def scope_list(self, key: ApiKey) -> str:
        return ", ".join(sorted(key.scopes)) or "none"


class PlanInline(admin.TabularInline):
    """The client's quota plan, set where the client is (an `Assignment` of quotas)."""

    model = Assignment
    fk_name = "client"
    fields = ("plan",)
    extra = 1
    max_num = 1
    verbose_name = "quota plan"
    verbose_name_plural = "quota plan (none: the client's calls are not limited)"


@admin.register(ApiClient)
class ApiClientAdmin(DropParamsAdmin, admin.ModelAdmin):
    """A client's signing secret is shown once: when the client is added, and each time it is
    rotated (an action); the page showing it is not cached, and nothing else displays it."""

    list_display = ("name", "active", "end_users", "user_ids", "allowed_routes", "plan",
                    "residency", "key_count", "signing")
    list_filter = ("active", "end_users", "user_ids", "third_party")
    search_fields = ("name",)
    filter_horizontal = ("routes",)
    inlines = (PlanInline, ApiKeyInline)
    actions = ("rotate_signing_secrets",)

    def render_change_form(self, request: HttpRequest, context: dict[str, Any],
                           add: bool = False, change: bool = False, form_url: str = "",
                           obj: ApiClient | None = None) -> HttpResponse:
        if obj is not None and not obj.end_users:
            context["end_users_impact"] = end_users_impact(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

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
                .select_related("quota_assignment__plan").annotate(key_count=Count("keys")))

    @admin.display(description="plan", ordering="quota_assignment__plan__name")
    def plan(self, client: ApiClient) -> str:
        assignment = getattr(client, "quota_assignment", None)
        return assignment.plan.name if assignment else "—"

    @admin.display(description="routes")
    def allowed_routes(self, client: ApiClient) -> str:
        return ", ".join(route.name for route in client.routes.all()) or "—"

    @admin.display(description="keys", ordering="key_count")
    def key_count(self, client: ApiClient) -> int:
        return client.key_count  # type: ignore[attr-defined]


def end_users_impact(client: ApiClient) -> dict[str, int]:
    """What turning on "serves end users" would do to this client's callers, judged by its
    last day: calls without `user` would be refused, people named must consent first."""
    since = timezone.now() - dt.timedelta(days=1)
    return Generation.objects.filter(client=client, created__gte=since).aggregate(
        calls=Count("id"), without_user=Count("id", filter=Q(end_user="")),
        people=Count("end_user", distinct=True, filter=~Q(end_user="")))


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
        raw = request._dihya_new_key  # type: ignore[attr-defined]
        route = obj.client.routes.order_by("name").first()
        origin = request.build_absolute_uri("/").rstrip("/")
        context = {**self.admin_site.each_context(request), "opts": self.opts, "key": obj,
                   "raw": raw, "title": "API key created",
                   "snippets": snippets.for_key(raw, origin, route.name if route else "default")}
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
