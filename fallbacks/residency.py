"""Where a request's data may be processed: a residency policy, as plain data.

The runner asks `Residency.refuses(engine)` before every attempt and skips an engine outside
the policy at no cost (outcome `region_not_allowed`, its breaker untold: the engine is fine,
the request is not for it). The policy is built by whoever knows the caller (`dihya` builds it
from the client and the person's consent); this app only matches it, exactly as written, and
must never widen it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fallbacks.spec import EngineSpec

REGION_NOT_ALLOWED = "region_not_allowed"


@dataclass(frozen=True, slots=True)
class Residency:
    """`regions`: the engine regions allowed (None: any); `third_party`: whether an engine
    run by a third party may be called. `named` says whose policy it is, for the refusal."""

    regions: frozenset[str] | None = None
    third_party: bool = True
    named: str = ""

    @property
    def open(self) -> bool:
        return self.regions is None and self.third_party

    def refuses(self, engine: EngineSpec) -> str | None:
        """Why `engine` is outside the policy, or None if it may be called."""
        if self.regions is not None and engine.region not in self.regions:
            return (f"processes data in {engine.region!r}; allowed: "
                    f"{', '.join(sorted(self.regions)) or 'none'}")
        if not self.third_party and engine.third_party:
            return "is a third-party processor; only self-hosted engines are allowed"
        return None

    def describe(self) -> str:
        """The policy in words: what a refusal names."""
        parts = []
        if self.regions is not None:
            parts.append("regions " + (", ".join(sorted(self.regions)) or "none"))
        if not self.third_party:
            parts.append("self-hosted engines only")
        said = "; ".join(parts) or "any engine"
        return f"{self.named}: {said}" if self.named else said


ANYWHERE = Residency()
