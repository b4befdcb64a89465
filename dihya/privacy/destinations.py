"""Where a person's prompts may go, in plain words for the privacy and consent pages.

Read from the enabled engines: who runs each (the organisation, or a named hosted service),
where it processes data, and whether personal data is masked before it is sent. It names
kinds of recipient, never an engine's address or key.
"""

from __future__ import annotations

from dataclasses import dataclass

from fallbacks.models import Engine, Processor


@dataclass(frozen=True, order=True)
class Destination:
    third_party: bool
    operator: str  # the hosted service (its provider's name), or "" for the organisation
    region: str
    masked: bool


def destinations() -> list[Destination]:
    """Each distinct place an enabled engine processes prompts, self-hosted first."""
    found = {Destination(third_party=e.processor == Processor.THIRD_PARTY,
                         operator=e.get_provider_display()
                         if e.processor == Processor.THIRD_PARTY else "",
                         region=e.region, masked=e.masks)
             for e in Engine.objects.filter(enabled=True).only("provider", "region",
                                                                "processor", "mask")}
    return sorted(found)
