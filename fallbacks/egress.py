"""What leaves for each engine of one request: the request as it is, or masked.

The runner asks `Egress.leg(engine)` before an engine's first attempt. A request is masked
at most once (the same placeholders for every engine that masks, one detection), and the
answer of a masking engine is restored from the same vault (`fallbacks.masking`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fallbacks import masking
from fallbacks.masking import Masking, MaskingFailed, Vault
from fallbacks.spec import EngineSpec, Request


@dataclass(slots=True)
class Leg:
    """The request as one engine receives it (masked or not) and how to restore its answer."""

    request: Request
    vault: Vault | None = None


class Egress:
    """What each engine of one request receives: the request as it is, or masked once (the
    same placeholders for every engine that masks) and restored from the same vault."""

    def __init__(self, request: Request, masking_: Masking | None) -> None:
        self.request = request
        self.masking = masking_
        self.vault = Vault()
        self.masked: Request | None = None
        self.failed: MaskingFailed | None = None

    async def leg(self, engine: EngineSpec) -> Leg:
        if not engine.mask:
            return Leg(self.request)
        if self.failed is not None:
            raise self.failed
        if self.masked is None:
            if self.masking is None:
                self.failed = MaskingFailed("no detector of personal data is configured")
                raise self.failed
            try:
                self.masked = await masking.mask(self.request, self.masking, self.vault)
            except MaskingFailed as failed:
                self.failed = failed
                raise
        return Leg(self.masked, self.vault)
