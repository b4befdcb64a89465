"""A limit as it applies to one subject (`Bound`), and where that subject stands (`Standing`).

Plain values shared by the ledger, the plans and the alerts, so that none of them imports the
other for its types.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

BATCH = "batch_"  # the prefix of the metrics that count batch lines only


def counted(metric: str) -> str:
    """What a metric counts in a call: `batch_tokens` counts its tokens (on a counter of its
    own, and only for batch lines), `tokens` its tokens."""
    return metric.removeprefix(BATCH)


def batch_only(metric: str) -> bool:
    return metric.startswith(BATCH)


@dataclass(frozen=True, slots=True)
class Bound:
    """One limit as it applies to one subject."""

    subject: str
    metric: str
    period: str
    amount: int
    hard: bool = True
    alerts: tuple[int, ...] = ()
    plan: str = ""

    @property
    def order(self) -> tuple[str, str, str]:
        return (self.subject, self.metric, self.period)

    @property
    def counts(self) -> str:
        """The amount of a call it is charged: `requests`, `tokens` or `cost`."""
        return counted(self.metric)


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a subject stands against one limit in the current window."""

    bound: Bound
    used: int
    window_start: dt.datetime
    resets_at: dt.datetime

    @property
    def remaining(self) -> int:
        return max(0, self.bound.amount - self.used)

    def as_dict(self) -> dict[str, object]:
        b = self.bound
        return {"subject": b.subject, "plan": b.plan, "metric": b.metric, "period": b.period,
                "limit": b.amount, "hard": b.hard, "used": self.used,
                "remaining": self.remaining, "window_start": self.window_start.isoformat(),
                "resets_at": self.resets_at.isoformat()}
