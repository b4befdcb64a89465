"""One person on one page, for the data-protection officer handling their request.

Reached from the people list ("person page" column): the ids each app knows them by, their
consents, their recent generations as the audit log shows them (redacted: the officer answers
a request, they need not read the prompts), their quota counters, and the actions. Auditors
(the view permission) read; exporting and erasing need the right to change users, because an
export hands out everything held and an erasure cannot be undone. The erasure is
`dihya.privacy.erasure.erase`, which leaves the `ErasureReceipt`; an export is audited as a
client's data request is (`data_request`, kind export, the officer as actor); the
confirmation counts what goes from what an export would return, so the officer sees the same
thing the person would.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from audit import log
from audit.models import Consent
from dihya.gateway.disclosure import redacted_text
from dihya.gateway.models import Generation
from dihya.lib.pseudonyms import pseudonym
from dihya.privacy import erasure
from dihya.privacy.people_admin import EVERY_CLIENT, client_names
from quotas import erasure as quota_records

RECENT = 10

#: The export's parts in plain words, singular and plural; parts not named here are counted
#: under their own name.
KINDS = {"generations": ("generation", "generations"),
         "responses": ("stored response", "stored responses"),
         "consents": ("consent record", "consent records"),
         "consent_links": ("consent link", "consent links"),
         "external_ids": ("id known to an app", "ids known to apps"),
         "sign_in_records": ("sign-in record", "sign-in records"),
         "audit_events": ("audit event", "audit events"),
         "quotas": ("quota counter or alert", "quota counters and alerts")}


def urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    site = model_admin.admin_site
    info = (model_admin.model._meta.app_label, model_admin.model._meta.model_name)
    return [
        path("<path:object_id>/person/", site.admin_view(_view(model_admin, page)),
             name="{}_{}_person".format(*info)),
        path("<path:object_id>/person/export/", site.admin_view(_view(model_admin, export)),
             name="{}_{}_person_export".format(*info)),
        path("<path:object_id>/person/erase/", site.admin_view(_view(model_admin, erase)),
             name="{}_{}_person_erase".format(*info)),
    ]


def _view(model_admin: admin.ModelAdmin, handler: Any) -> Any:
    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        user = get_object_or_404(model_admin.model, pk=object_id)
        return handler(model_admin, request, user)
    return view


def may_act(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """Export and erase: superusers and those who may change users, never auditors."""
    return bool(model_admin.has_change_permission(request))


def identities(user: Any) -> list[dict[str, str]]:
    rows = list(user.external_identities.all())
    names = client_names([user])
    return [{"external_id": i.external_id, "source": i.get_source_display(),
             "client": (names.get(i.client_id, f"client {i.client_id} (deleted)")
                        if i.client_id else EVERY_CLIENT)} for i in rows]


def known_as(user: Any) -> str:
    """How the officer names them to an app: "alice-42 at shop" (else the username)."""
    first = next((i for i in identities(user) if i["client"] != EVERY_CLIENT), None)
    return f"{first['external_id']} at {first['client']}" if first else user.get_username()


def short_name(user: Any) -> str:
    """ "alice-42": the first id an app knows them by (else the username); no query when the
    list prefetched the ids."""
    first = next(iter(user.external_identities.all()), None)
    return first.external_id if first else user.get_username()


def what_goes(data: dict[str, Any]) -> list[str]:
    """ "3 generations", "1 consent record"…: the export's parts that hold anything."""
    lines = []
    for kind, part in data.items():
        if kind in ("exported_at", "account", "client"):
            continue
        count = (len(part) if isinstance(part, list) else
                 sum(len(v) for v in part.values() if isinstance(v, list))
                 if isinstance(part, dict) else int(bool(part)))
        if count:
            one, many = KINDS.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
            lines.append(f"{count} {one if count == 1 else many}")
    return lines


def page(model_admin: admin.ModelAdmin, request: HttpRequest, user: Any) -> HttpResponse:
    p = erasure.person(user)
    recent = Generation.objects.filter(pk__in=p.generation_ids).order_by("-created")[:RECENT]
    info = model_admin.model._meta.app_label, model_admin.model._meta.model_name
    return TemplateResponse(request, "privacy/person_page.html", {
        **model_admin.admin_site.each_context(request),
        "title": f"{known_as(user)}", "person": user, "opts": model_admin.model._meta,
        "identities": identities(user),
        "consents": Consent.objects.filter(user=user).select_related("purpose")
                                   .order_by("-granted_at"),
        "generations": [{"g": g, "answer": redacted_text(g)} for g in recent],
        "counters": quota_records.collect(p.pseudonyms)["counters"],
        "may_act": may_act(model_admin, request),
        "change_url": reverse("admin:{}_{}_change".format(*info), args=[user.pk]),
        "changelist_url": reverse("admin:{}_{}_changelist".format(*info)),
    })


def export(model_admin: admin.ModelAdmin, request: HttpRequest, user: Any) -> HttpResponse:
    if not may_act(model_admin, request):
        raise PermissionDenied
    log.record("data_request", subject=pseudonym(user.get_username()),
               actor=f"admin {request.user.get_username()}", details={"kind": "export"})
    body = json.dumps(erasure.export(user), cls=DjangoJSONEncoder, indent=2)
    answer = HttpResponse(body, content_type="application/json")
    answer["Content-Disposition"] = f'attachment; filename="person-{user.pk}.json"'
    return answer


def erase(model_admin: admin.ModelAdmin, request: HttpRequest, user: Any) -> HttpResponse:
    if not may_act(model_admin, request):
        raise PermissionDenied
    opts = model_admin.model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    myself = user.pk == request.user.pk
    if request.method == "POST" and not myself:
        name = known_as(user)
        receipt = erasure.erase(user, by=f"admin {request.user.get_username()}")
        model_admin.message_user(
            request, f"Erased {name}. What remains is erasure receipt {receipt.pk} "
                     "(counts only, no personal data).", messages.SUCCESS)
        return HttpResponseRedirect(changelist)
    return TemplateResponse(request, "privacy/person_erase_confirm.html", {
        **model_admin.admin_site.each_context(request),
        "title": f"Erase {known_as(user)}?", "person": user, "known_as": known_as(user),
        "short_name": short_name(user), "goes": what_goes(erasure.export(user)),
        "myself": myself, "opts": model_admin.model._meta,
    })


class PersonPages:
    """Mixed into the people list's admin: the pages above, and a link to each from its row."""

    def get_urls(self) -> list[Any]:
        return [*urls(self), *super().get_urls()]  # type: ignore[arg-type,misc]

    def get_list_display(self, request: HttpRequest) -> Any:
        return (*super().get_list_display(request), "person_page")  # type: ignore[misc]

    @admin.display(description="person page")
    def person_page(self, user: Any) -> str:
        opts = self.model._meta  # type: ignore[attr-defined]
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_person", args=[user.pk])
        return format_html('<a href="{}" class="dihya-person-page">{}\u2019s page</a>', url,
                           short_name(user))
