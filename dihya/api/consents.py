"""The consent API, for apps that collect consent in their own screens or hand people a link.

`POST /api/v1/consent-links` gives a personal consent link for a person of this client, as a
refused call would: for someone new to Dihya, or someone this client has served or registered
(`dihya.generation.gates.consent.may_link`), never for another client's person or an account
that signs in and was never served here. `POST /api/v1/consents` records a consent the app
obtained itself (how = API, the client named, the policy version the person saw — refused
unless it is the current one — and a short evidence string); `GET` reads a person's state;
`DELETE` withdraws, which cancels their queued jobs at once (`dihya.privacy.receivers`). All
need the `consent` scope and a client that serves end users; a client reads and withdraws only
for people it has served, and never learns whether a name means someone at another client.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from audit import consent
from audit.models import Consent, ExternalIdentity, Purpose
from dihya.api.auth import BearerKey, caller
from dihya.api.schemas import ERRORS
from dihya.gateway.models import ApiClient
from dihya.generation import hops, identity
from dihya.generation.errors import Refusal
from dihya.generation.gates import consent as consent_gate

router = Router(tags=["Consent"], auth=BearerKey())

User = Field(..., min_length=1, max_length=256, description="The person, as this client names "
             "them in `user`.")


class LinkRequest(Schema):
    user: str = User
    purpose: str = Field(consent.GENERATION, max_length=40)


class LinkOut(Schema):
    object: str = "consent_link"
    url: str
    expires_at: str


class ConsentIn(Schema):
    user: str = User
    purpose: str = Field(consent.GENERATION, max_length=40)
    policy_version: int = Field(..., ge=1, description="The version the person was shown.")
    evidence: str = Field("", max_length=500, description="What the app showed and when, "
                          "e.g. a screen and a timestamp.")


class ConsentState(Schema):
    purpose: str
    policy_version: int
    active: bool
    granted_at: str | None
    how: str | None
    client: str | None


class ConsentsOut(Schema):
    object: str = "consents"
    user: str
    data: list[ConsentState]


class Withdrawn(Schema):
    object: str = "consent_withdrawal"
    user: str
    purpose: str
    withdrawn: int


def serving(token: str) -> ApiClient:
    """The calling client, which must hold the consent scope and serve end users."""
    client = caller(token, "", scope="consent").client
    if client is None or not client.end_users:
        raise Refusal(400, "client_has_no_end_users", "This client does not serve end users: "
                      "it has no people to ask consent of.")
    return client


def purpose_of(slug: str) -> Purpose:
    try:
        return consent.get_purpose(slug)
    except Purpose.DoesNotExist:
        raise Refusal(404, "purpose_not_found", f"No purpose {slug!r}.", param="purpose") from None


def make_link(token: str, body: LinkRequest) -> dict[str, Any]:
    client = serving(token)
    purpose_of(body.purpose)
    if not consent_gate.may_link(client, identity.resolve(client, body.user)):
        raise Refusal(404, "user_not_found", "This client has not served or registered anyone "
                      "by that `user`: people with an account sign in to the consent_url.",
                      param="user", extra={"consent_url": consent_gate.consent_url()})
    url, expires = consent_gate.issue_link(client, body.user, body.purpose)
    return {"object": "consent_link", "url": url, "expires_at": expires.isoformat()}


def record(token: str, body: ConsentIn) -> dict[str, Any]:
    client = serving(token)
    purpose = purpose_of(body.purpose)
    if body.policy_version != purpose.version:
        raise Refusal(409, "policy_version_outdated", f"The current version of {purpose.slug!r} "
                      f"is {purpose.version}: show the person that one.", param="policy_version")
    person = identity.person_for(client, body.user, source=ExternalIdentity.Source.API)
    try:
        consent.grant(person, purpose.slug, how=Consent.How.API, client=client.name,
                      actor=f"client:{client.name}", evidence=body.evidence,
                      version=body.policy_version)
    except consent.PolicyOutdated:  # published between the two reads
        raise Refusal(409, "policy_version_outdated", "The policy changed meanwhile.",
                      param="policy_version") from None
    return state(client, body.user)


def state(client: ApiClient, user: str) -> dict[str, Any]:
    person = identity.resolve(client, user)
    known = person is not None and identity.has_served(client, person)
    data = []
    for purpose in Purpose.objects.all():
        active = consent.active_consent(person, purpose.slug) if known else None
        data.append({"purpose": purpose.slug, "policy_version": purpose.version,
                     "active": active is not None,
                     "granted_at": active.granted_at.isoformat() if active else None,
                     "how": active.how if active else None,
                     "client": (active.client or None) if active else None})
    return {"object": "consents", "user": user, "data": data}


def read(token: str, user: str) -> dict[str, Any]:
    return state(serving(token), user)


def withdraw(token: str, user: str, slug: str) -> dict[str, Any]:
    client = serving(token)
    purpose_of(slug)
    person = identity.resolve(client, user)
    count = 0
    if person is not None and identity.has_served(client, person):
        count = consent.withdraw(person, slug, how=Consent.How.API, client=client.name,
                                 actor=f"client:{client.name}")
    return {"object": "consent_withdrawal", "user": user, "purpose": slug, "withdrawn": count}


@router.post("/consent-links", response={201: LinkOut, **ERRORS}, summary="A consent link",
             operation_id="create_consent_link")
async def create_link(request: HttpRequest, body: LinkRequest) -> Status[dict[str, Any]]:
    """A personal link for this person of this client, to show them (e.g. a privacy button)."""
    return Status(201, await hops.db(make_link)(request.auth, body))  # type: ignore[attr-defined]


@router.post("/consents", response={201: ConsentsOut, **ERRORS}, summary="Record a consent",
             operation_id="create_consent")
async def create_consent(request: HttpRequest, body: ConsentIn) -> Status[dict[str, Any]]:
    """A consent the app obtained in its own screens, for the current policy version."""
    return Status(201, await hops.db(record)(request.auth, body))  # type: ignore[attr-defined]


@router.get("/consents", response={200: ConsentsOut, **ERRORS}, summary="Consent state",
            operation_id="read_consents")
async def read_consents(request: HttpRequest, user: str) -> dict[str, Any]:
    """This person's consent to each purpose (none for people this client has not served)."""
    return await hops.db(read)(request.auth, user[:256])  # type: ignore[attr-defined]


@router.delete("/consents", response={200: Withdrawn, **ERRORS}, summary="Withdraw a consent",
               operation_id="withdraw_consent")
async def withdraw_consent(request: HttpRequest, user: str,
                           purpose: str = consent.GENERATION) -> dict[str, Any]:
    """Withdraw now: the person's queued jobs are cancelled in the same transaction."""
    return await hops.db(withdraw)(request.auth, user[:256], purpose[:40])  # type: ignore[attr-defined]
