"""The page a personal consent link opens: purpose, policy and version, "I agree" / "No thanks".

No password: the link is the person's proof of who they are for this one client
(`audit.identities`). Answering spends it, records the answer, and opens the person's privacy
page through a short session (`dihya.privacy.session`). A tampered, expired or spent link
gets a page that says which, and never tells whose it was. Opening a link changes nothing, so
that a mail scanner that follows it spends nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from audit import consent, identities
from audit.models import ExternalIdentity, Purpose
from dihya.gateway.models import ApiClient
from dihya.generation import identity
from dihya.generation.gates import consent as consent_gate
from dihya.privacy import session
from dihya.privacy.destinations import destinations


def refused(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "privacy/link_refused.html", {"reason": reason}, status=410
                  if reason in ("expired", "used") else 404)


@never_cache
@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        found = identities.open_link(token)
    except identities.LinkRefused as no:
        return refused(request, no.reason)
    try:
        purpose = consent.get_purpose(found.purpose)
    except Purpose.DoesNotExist:  # the purpose was deleted since
        return refused(request, "unknown")
    if request.method == "GET":
        return render(request, "privacy/link.html", {"purpose": purpose, "link": found,
                                                     "destinations": destinations()})
    answer = request.POST.get("answer")
    if answer not in ("agree", "decline"):
        return render(request, "privacy/link.html", {"purpose": purpose, "link": found,
                                                     "destinations": destinations(),
                                                     "error": True}, status=400)
    if request.POST.get("version") != str(purpose.version):
        # The policy changed while the page was open: show the new text.
        return render(request, "privacy/link.html", {"purpose": purpose, "link": found,
                                                     "destinations": destinations(),
                                                     "changed": True}, status=409)
    client = ApiClient.objects.filter(pk=found.client_id, active=True).first()
    if client is None:  # the client was deleted or turned off since
        return refused(request, "unknown")
    if not consent_gate.may_link(client, identity.resolve(client, found.external_id)):
        # Since the link was made, the id came to name an account this client never served
        # (someone signed up with that e-mail): whoever holds the link does not answer for them.
        return refused(request, "unknown")

    def person_of(agreed: bool) -> AbstractBaseUser | None:
        if agreed:
            return identity.person_for(client, found.external_id,
                                       source=ExternalIdentity.Source.LINK)
        return identity.resolve(client, found.external_id)

    try:
        person = identities.answer(found, answer == "agree", person_of)
    except identities.LinkRefused as no:
        return refused(request, no.reason)
    opened = person is not None and session.begin(request, person, client.pk,
                                                          found.client_name)
    if answer == "decline":
        return render(request, "privacy/link_declined.html",
                      {"client": found.client_name, "opened": opened})
    if not opened:
        return render(request, "privacy/link_agreed.html", {"client": found.client_name})
    messages.success(request, _("Thank you. Your consent is recorded. You can come back to "
                                "this page from %(client)s at any time.")
                     % {"client": found.client_name})
    return redirect("privacy:index")
