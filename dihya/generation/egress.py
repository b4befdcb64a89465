"""Lawful egress, wired: whose residency policy a call carries and how its engines mask.

The policy is plain data (`fallbacks.residency.Residency`) built at admission, where the
database may be read: the client's regions and third-party switch, narrowed by the person's
consent to `third-party-engines` for a client that serves end users (no consent: self-hosted
engines only). The runner matches it and never reads the database. The detector of personal
data (`dihya.generation.detection`) is handed to the runner as a plain callable.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from django.conf import settings

from audit import consent
from dihya.generation import detection, identity
from fallbacks.masking import Masking
from fallbacks.residency import ANYWHERE, Residency
from fallbacks.spec import RouteSpec

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

    from dihya.gateway.models import ApiClient

log = logging.getLogger(__name__)


def residency_of(client: ApiClient | None, person: AbstractBaseUser | None, *,
                 remembered: bool = True) -> Residency:
    """The policy a call of `client` for `person` runs under (an operator's: anywhere). The
    person's consent is remembered for a live call (forgotten on any change, as the consent
    gate's: dihya.generation.identity), asked of the database when a worker claims a job."""
    if client is None:
        return ANYWHERE
    regions = frozenset(client.regions) if client.regions else None
    third_party, named = client.third_party, f"client {client.name!r}"
    if third_party and client.end_users and not agreed(person, remembered=remembered):
        third_party, named = False, (f"client {client.name!r}, for a person who has not agreed "
                                     f"to {consent.THIRD_PARTY!r}")
    policy = Residency(regions=regions, third_party=third_party, named=named)
    return ANYWHERE if policy.open else policy


def agreed(person: AbstractBaseUser | None, *, remembered: bool) -> bool:
    """Whether `person` agrees to transfers to third-party engines now."""
    if person is None or not person.pk or not remembered:
        return consent.is_active(person, consent.THIRD_PARTY)
    return identity.remembered.get(("third-party", person.pk),
                                 lambda: consent.is_active(person, consent.THIRD_PARTY))


def masking() -> Masking:
    return Masking(detection.detect, timeout=settings.DIHYA_MASK_TIMEOUT)


async def ready(route: RouteSpec) -> None:
    """Load the detector on a thread before a route that masks runs (once per process), so
    that its load never counts against a call's masking timeout. A detector that cannot load
    is logged; the engines that mask then fail closed."""
    if any(engine.mask for engine in route.engines):
        try:
            await asyncio.to_thread(detection.load)
        except Exception:
            log.exception("the detector of personal data could not be loaded")
