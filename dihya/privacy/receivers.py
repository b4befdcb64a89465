"""What the privacy wiring does when the audit app says something happened to a person.

A withdrawn consent stops every generation still waiting for that person, in the withdrawing
transaction, so that it takes effect at once. Connected in `PrivacyConfig.ready()`.
"""

from __future__ import annotations

from typing import Any

from audit import consent
from audit.signals import consent_withdrawn
from dihya.gateway.models import Generation
from dihya.generation import identity, jobs


def cancel_queued(sender: Any, user: Any, purpose: str, **kwargs: Any) -> None:
    if purpose != consent.GENERATION:
        return
    for generation in Generation.objects.filter(user=user, status=Generation.Status.QUEUED):
        jobs.cancel(generation)


def connect() -> None:
    consent_withdrawn.connect(cancel_queued, dispatch_uid="dihya.privacy.cancel_queued")
    identity.connect()  # what calls remember of people is forgotten when people change
