"""People's own privacy pages: consent, download, erasure. Always about the person of the
request only (`dihya.privacy.session`: the signed-in account or a consent link's person, and
then only what the link's client holds): no URL here takes an id, so nobody can reach someone
else's data by editing one."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit import consent
from audit.models import Consent, Purpose
from dihya.privacy import erasure, session
from dihya.privacy.destinations import destinations
from dihya.privacy.session import person_required
from dihya.privacy.session import the_person as me


@person_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    history = consent.history(me(request))
    purposes = []
    for purpose in Purpose.objects.all():
        active = next((c for c in history if c.purpose_id == purpose.pk
                       and c.version == purpose.version and c.withdrawn_at is None), None)
        lapsed = active is None and any(c.purpose_id == purpose.pk and c.withdrawn_at is None
                                        for c in history)
        purposes.append({"purpose": purpose, "active": active, "lapsed": lapsed})
    return render(request, "privacy/index.html", {
        "purposes": purposes, "history": history, "person": me(request),
        "destinations": destinations(),
        "third_party_agreed": consent.is_active(me(request), consent.THIRD_PARTY),
        "link_client": request.session.get(session.CLIENT, "")})


@require_POST
def leave(request: HttpRequest) -> HttpResponse:
    """End a consent link's session (signed-in people sign out instead)."""
    session.end(request)
    return render(request, "privacy/left.html")


@person_required
@require_POST
def grant(request: HttpRequest, slug: str) -> HttpResponse:
    if not Purpose.objects.filter(slug=slug).exists():
        raise Http404
    consent.grant(me(request), slug, how=Consent.How.PRIVACY_PAGE)
    messages.success(request, _("Thank you. Your consent is recorded."))
    return redirect("privacy:index")


@person_required
@require_POST
def withdraw(request: HttpRequest, slug: str) -> HttpResponse:
    if not Purpose.objects.filter(slug=slug).exists():
        raise Http404
    consent.withdraw(me(request), slug, how=Consent.How.PRIVACY_PAGE)
    messages.success(request, _("Your consent is withdrawn. It takes effect now."))
    return redirect("privacy:index")


@person_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    data = erasure.export(me(request), session.client_of(request))
    response = HttpResponse(json.dumps(data, indent=2, ensure_ascii=False, default=str),
                            content_type="application/json; charset=utf-8")
    name = f"dihya-my-data-{timezone.now():%Y-%m-%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


@person_required
@require_http_methods(["GET", "POST"])
def erase(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        p = erasure.person(me(request), session.client_of(request))
        return render(request, "privacy/erase_confirm.html",
                      {"generations": len(p.generation_ids)})
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm that you want everything erased."))
        return redirect("privacy:erase")
    receipt = erasure.erase(me(request), by="self", client=session.client_of(request))
    logout(request)
    session.end(request)
    return render(request, "privacy/erased.html", {"receipt": receipt})
