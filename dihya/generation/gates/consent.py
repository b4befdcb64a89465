"""Consent, wired into the pipeline: no generation for an end user who has not consented.

`ConsentGate.admit` refuses, before anything is written or any engine called, a call from a
client that serves end users when the person named in `user` is unknown to that client or has
no active consent for `generation`. The refusal carries a personal `consent_url` for that
person at that client (`audit.identities`) if the client may have one (`may_link`): their
live link if they have one (`identities.live_link`: the same URL again, no new row or event),
else a new one, promised in the refusal and stored by `refused`, after the admission's
rollback, so that it is kept. A client gets DIHYA_CONSENT_REFUSAL_RATE such refusals a
minute (each writes audit events under the chain's lock); past that, 429
`too_many_consent_refusals` without a link or an event.
`started` asks again when a worker claims a queued job (no link then: nobody would show it).
Withdrawal (`audit.signals.consent_withdrawn`) cancels that person's queued generations in the
same transaction, so it takes effect at once (`dihya.privacy.receivers`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from audit import consent, identities
from dihya.generation import identity
from dihya.generation.admission import PendingLink
from dihya.generation.errors import Refusal
from dihya.generation.gates import Guard
from dihya.lib.ratelimit import hit

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from dihya.gateway.models import ApiClient
    from dihya.generation.admission import Admission



def absolute(path: str) -> str:
    """Absolute when DIHYA_PUBLIC_URL is set, else the path."""
    base = settings.DIHYA_PUBLIC_URL.rstrip("/")
    return f"{base}{path}" if base else path


def consent_url() -> str:
    """The privacy page, for people who sign in."""
    return absolute(reverse("privacy:index"))


def link_url(token: str) -> str:
    return absolute(reverse("privacy:link", args=[token]))


def issue_link(client: ApiClient, end_user: str,
               purpose: str = consent.GENERATION) -> tuple[str, dt.datetime]:
    """A personal consent link for this person of this client, stored now: (url, expires)."""
    token, link = identities.issue_link(client.pk, client.name, end_user, purpose)
    return link_url(token), link.expires


def may_link(client: ApiClient, person: AbstractBaseUser | None) -> bool:
    """Whether a consent link may be issued for the person a client's id resolves to: someone
    Dihya does not know yet (agreeing makes them this client's person), or someone this
    client has served or registered. Never for anyone else the id happens to name (an account
    found by e-mail, username or `sub`, another client's or an admin's person): whoever
    holds the link answers for them."""
    return person is None or identity.has_served(client, person)


def consents(user: AbstractBaseUser, *, remembered: bool) -> bool:
    """Whether `user` consents to generation now: remembered for a live call (forgotten on
    any change, dihya.generation.identity), asked of the database when a worker claims a job."""
    if not remembered:
        return consent.is_active(user, consent.GENERATION)
    return identity.remembered.get(("consents", user.pk),
                                 lambda: consent.is_active(user, consent.GENERATION))


def refusal(message: str, url: str | None = None, expires: dt.datetime | None = None
            ) -> Refusal:
    extra: dict[str, object] = {"consent_url": url or consent_url()}
    if expires is not None:
        extra["consent_url_expires_at"] = expires.isoformat()
    return Refusal(403, "consent_required", message, param="user", extra=extra)


class ConsentGate(Guard):
    def admit(self, admission: Admission) -> None:
        self.check(admission, link=True)

    def started(self, admission: Admission) -> None:
        """Again when a worker claims a queued job: consent may have been withdrawn since, and a
        job the reaper put back in the queue was not there to be cancelled. A live call was
        checked a moment ago in the same transaction: asked once, not twice."""
        if admission.generation.deliveries:
            self.check(admission, link=False)

    def check(self, admission: Admission, *, link: bool) -> None:
        client = admission.caller.client
        if client is None or not client.end_users:
            return
        generation = admission.generation
        if not generation.end_user:
            raise refusal(f"The client {client.name!r} serves end users: name the person this "
                          "call is for in the `user` field; they must have consented.")
        if generation.user is not None and consents(generation.user, remembered=link):
            return
        if not link:
            raise refusal("This person's consent to text generation is no longer active.")
        if hit(f"consent-refusals:{client.pk}", settings.DIHYA_CONSENT_REFUSAL_RATE, 60):
            raise Refusal(429, "too_many_consent_refusals", "Too many calls of this client were "
                          "refused for consent in the last minute: show people their "
                          "consent_url before calling again.", param="user",
                          headers={"Retry-After": "60"})
        if not may_link(client, generation.user):
            raise refusal("This person has not consented to text generation. They have an "
                          "account: they sign in at the consent_url to agree.")
        live = identities.live_link(client.pk, generation.end_user)
        if live is not None:  # the link they were given already: no new row, no new event
            token, expires = live[0], live[1].expires
        else:
            created = timezone.now()
            token = identities.token_for(client.pk, generation.end_user, consent.GENERATION,
                                         created)
            expires = identities.link_expiry(created)
            admission.pending_link = PendingLink(client, generation.end_user, created)
        days = settings.DIHYA_CONSENT_LINK_DAYS
        if generation.user is None:
            raise refusal("This person has not consented to text generation yet. Show them "
                          f"the consent_url: a personal link for them, valid {days} days, where "
                          "they can agree without an account.", link_url(token), expires)
        raise refusal("This person has not consented to text generation (or withdrew their "
                      "consent, or the policy changed). Show them the consent_url: a personal "
                      f"link for them, valid {days} days.", link_url(token), expires)

    def refused(self, admission: Admission, refusal: Refusal) -> None:
        pending, admission.pending_link = admission.pending_link, None
        if pending is not None and refusal.code == "consent_required":
            identities.issue_link(pending.client.pk, pending.client.name, pending.end_user,
                                  created=pending.created)
