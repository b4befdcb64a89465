"""Admin for consent and audit: records are read-only (they are proof); purposes are edited,
and a changed policy text becomes a new version that asks everyone again."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from audit import log
from audit.models import AuditEvent, Consent, ErasureReceipt, ExternalIdentity, Purpose


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


CHAIN = ("prev_hash", "hash", "content_digest", "personal_digest", "seal", "scheme")


def shown(value: Any) -> str:
    """A detail's value as a reader takes it: text as is, anything else as compact JSON."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def change_summary(details: dict[str, Any]) -> str:
    """"route default updated: engines, strategy" — the object and the fields changed."""
    what = f"{details.get('object', '?')} {details.get('name', '')}".strip()
    action = details.get("action", "changed")
    if action != "updated":
        return f"{what} {action}"
    fields = sorted((details.get("before") or {}).keys() | (details.get("after") or {}).keys())
    return f"{what} updated: {', '.join(fields) or 'nothing'}"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnly):
    """Events read as fields; the hash chain that proves them is folded away (its own
    fieldset, closed), and the salt is never shown."""

    list_display = ["id", "created", "kind", "summary", "subject", "who", "client", "route",
                    "engine", "status", "fallbacks", "tokens"]
    list_filter = ["kind", "status", "client", "route", "engine"]
    search_fields = ["subject", "generation_id"]
    date_hierarchy = "created"
    exclude = ["salt"]
    fieldsets = [
        (None, {"fields": ["kind", "created", "summary", "readable_details", "subject", "who",
                           "client", "route", "engine", "generation_id", "status",
                           "fallbacks", "tokens", "erased"]}),
        ("Hash chain", {"classes": ["collapse"], "fields": list(CHAIN),
                        "description": "What makes the log tamper-evident (audit.log): "
                                       "verified by `manage.py audit verify`."}),
    ]
    readonly_fields = ["summary", "readable_details", "who", "fallbacks", "tokens"]

    @admin.display(description="what")
    def summary(self, event: AuditEvent) -> str:
        details = event.details if isinstance(event.details, dict) else {}
        if event.kind == "config_change":
            return change_summary(details)
        return ", ".join(f"{k}: {shown(v)}" for k, v in details.items())[:120] or "—"

    @admin.display(description="details")
    def readable_details(self, event: AuditEvent) -> str:
        details = event.details if isinstance(event.details, dict) else {"value": event.details}
        if not details:
            return "—"
        if event.kind == "config_change" and details.get("action") == "updated":
            before, after = details.get("before") or {}, details.get("after") or {}
            rows = format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
                                    ((k, shown(before.get(k)), shown(after.get(k)))
                                     for k in sorted(before.keys() | after.keys())))
            rest = {k: v for k, v in details.items() if k not in ("before", "after")}
            return format_html('<table class="dihya-details"><thead><tr><th>field</th>'
                               "<th>before</th><th>after</th></tr></thead><tbody>{}</tbody>"
                               "</table><p>{}</p>", rows,
                               ", ".join(f"{k}: {shown(v)}" for k, v in rest.items()))
        rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>",
                                ((k, shown(v)) for k, v in details.items()))
        return format_html('<table class="dihya-details"><tbody>{}</tbody></table>', rows)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        # Console users who may act (staff), by their typed actor: an auditor reads who did
        # it, while the log itself holds only pseudonyms. One query per page.
        User = get_user_model()
        self._staff = {log.person(name): name for name in User._default_manager.filter(
            is_staff=True).values_list(User.USERNAME_FIELD, flat=True)}
        return super().changelist_view(request, extra_context)

    @admin.display(description="actor")
    def who(self, event: AuditEvent) -> str:
        if event.actor.startswith(log.PERSON):
            return getattr(self, "_staff", {}).get(event.actor, "a person (pseudonym)")
        return event.actor or "—"

    @admin.display(description="fallbacks")
    def fallbacks(self, event: AuditEvent) -> str:
        return " → ".join(f"{a.get('engine')}: {a.get('outcome')} ({a.get('latency_ms')} ms)"
                          for a in event.attempts) or "—"

    @admin.display(description="tokens")
    def tokens(self, event: AuditEvent) -> int:
        return event.prompt_tokens + event.completion_tokens


@admin.register(Consent)
class ConsentAdmin(ReadOnly):
    list_display = ["id", "user", "purpose", "version", "granted_at", "how", "withdrawn_at",
                    "receipt"]
    list_filter = ["purpose", "how", "withdrawn_at"]
    list_select_related = ["user", "purpose", "receipt"]
    search_fields = ["user__username"]


@admin.register(ErasureReceipt)
class ErasureReceiptAdmin(ReadOnly):
    list_display = ["id", "created", "by", "counts"]


@admin.register(Purpose)
class PurposeAdmin(admin.ModelAdmin):
    list_display = ["slug", "title", "version", "updated"]
    readonly_fields = ["version", "updated"]

    def save_model(self, request: HttpRequest, obj: Purpose, form: Any, change: bool) -> None:
        if change and "policy" in form.changed_data:
            obj.version += 1
        super().save_model(request, obj, form, change)
        log.record("policy_published" if "policy" in form.changed_data else "purpose_changed",
                   actor=log.person(request.user.get_username()),
                   details={"purpose": obj.slug, "version": obj.version})


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    """An id with no client is valid at every client: that is how an admin links one person
    across clients. Ids a consent link, the API or the identity provider made say so."""

    list_display = ["external_id", "user", "client_id", "source", "created"]
    list_filter = ["source"]
    fields = ["user", "client_id", "external_id", "source"]
    readonly_fields = ["source"]
    list_select_related = ["user"]
    search_fields = ["external_id", "user__username"]
    autocomplete_fields = ["user"]
