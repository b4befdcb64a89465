"""Consent, wired into the pipeline: no generation for an end user who has not consented.

`ConsentGate.admit` refuses, before anything is written or any engine called, a call from a
client that serves end users when the person named in `user` has no Dihya account or no active
consent for `generation`. Withdrawal (`audit.signals.consent_withdrawn`) cancels that person's
queued generations in the same transaction, so it takes effect at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.dispatch import receiver
from django.urls import reverse

from audit import consent
from audit.signals import consent_withdrawn
from dihya.gateway.models import Generation
from dihya.generation.errors import Refusal

if TYPE_CHECKING:
    from dihya.generation.pipeline import Admission
    from fallbacks.spec import Usage


def consent_url() -> str:
    """Where a person gives consent: absolute when DIHYA_PUBLIC_URL is set."""
    path = reverse("privacy:index")
    base = getattr(settings, "DIHYA_PUBLIC_URL", "").rstrip("/")
    return f"{base}{path}" if base else path


def refusal(message: str) -> Refusal:
    return Refusal(403, "consent_required", message, param="user",
                   extra={"consent_url": consent_url()})


class ConsentGate:
    def admit(self, admission: Admission) -> None:
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

    def finish(self, admission: Admission, usage: Usage | None) -> None:
        return None


@receiver(consent_withdrawn, dispatch_uid="dihya.generation.gates.consent.cancel_queued")
def cancel_queued(sender: Any, user: Any, purpose: str, **kwargs: Any) -> None:
    """A withdrawn consent stops every generation still waiting for that person."""
    if purpose != consent.GENERATION:
        return
    from dihya.generation import jobs  # late: jobs imports the pipeline, which imports the gates
    for generation in Generation.objects.filter(user=user, status=Generation.Status.QUEUED):
        jobs.cancel(generation)
