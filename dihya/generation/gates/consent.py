"""Consent, wired into the pipeline: no generation for an end user who has not consented.

`ConsentGate.admit` refuses, before anything is written or any engine called, a call from a
client that serves end users when the person named in `user` has no Dihya account or no active
consent for `generation`; `started` asks again when a worker claims a queued job. Withdrawal
(`audit.signals.consent_withdrawn`) cancels that person's queued generations in the same
transaction, so it takes effect at once (`dihya.privacy.receivers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse

from audit import consent
from dihya.generation.errors import Refusal
from dihya.generation.gates import Gate

if TYPE_CHECKING:
    from dihya.generation.admission import Admission


def consent_url() -> str:
    """Where a person gives consent: absolute when DIHYA_PUBLIC_URL is set."""
    path = reverse("privacy:index")
    base = settings.DIHYA_PUBLIC_URL.rstrip("/")
    return f"{base}{path}" if base else path


def refusal(message: str) -> Refusal:
    return Refusal(403, "consent_required", message, param="user",
                   extra={"consent_url": consent_url()})


class ConsentGate(Gate):
    def admit(self, admission: Admission) -> None:
        self.check(admission)

    def started(self, admission: Admission) -> None:
        """Again when a worker claims a queued job: consent may have been withdrawn since, and a
        job the reaper put back in the queue was not there to be cancelled. A live call was
        checked a moment ago in the same transaction: asked once, not twice."""
        if admission.generation.deliveries:
            self.check(admission)

    def check(self, admission: Admission) -> None:
        client = admission.caller.client
        if client is None or not client.end_users:
            return
        generation = admission.generation
        if not generation.end_user:
            raise refusal(f"The client {client.name!r} serves end users: name the person this "
                          "call is for in the `user` field; they must have consented.")
        if generation.user is None:
            raise refusal("This user has no Dihya account, so they cannot have consented to "
                          "text generation. They can sign in and consent at the consent_url.")
        if not consent.is_active(generation.user, consent.GENERATION):
            raise refusal("This user has not consented to text generation (or withdrew their "
                          "consent, or the policy changed). They can consent at the consent_url.")
