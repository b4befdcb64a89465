"""Usage per client, route or engine over a day, a week or a month: requests, tokens, cost.

The console's counterpart of LiteLLM's spend pages, read from the generations themselves (the
quota counters hold windows and pseudonyms, not a history by route or engine). Cost is each
generation's tokens at its engine's current price (quotas.EnginePrice, per million tokens, in
the price's own unit): a price changed today reprices the month, which is what an admin
comparing engines wants; the quota ledger keeps what was charged. A few grouped queries
whatever the number of generations; nothing here is personal (no `user`, no text).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from dihya.gateway.models import Generation
from quotas.models import EnginePrice

PERIODS = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=30)}
#: What a row is about: the generation's column that names it.
GROUPS = {"client": "client__name", "route": "route_name", "engine": "engine_name"}
NOBODY = {"client": "(no client: console, commands)", "route": "(none)",
          "engine": "(no engine answered)"}
CHART_SERIES = 6  # groups drawn in the chart; the rest are summed as "others"


@dataclass
class Row:
    name: str
    requests: int = 0
    succeeded: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def success_rate(self) -> int | None:
        return round(100 * self.succeeded / self.requests) if self.requests else None


def since(period: str, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - PERIODS[period]


def rows(period: str, by: str, now: datetime | None = None) -> list[Row]:
    """One row per client, route or engine with calls in the period, busiest first."""
    column = GROUPS[by]
    prices = {e: (i, o) for e, i, o in EnginePrice.objects.values_list(
        "engine__name", "input_per_million", "output_per_million")}
    found: dict[str, Row] = {}
    grouped = (Generation.objects.filter(created__gte=since(period, now))
               .values(column, "engine_name")
               .annotate(n=Count("id"), ok=Count("id", filter=Q(status="succeeded")),
                         p=Sum("prompt_tokens"), c=Sum("completion_tokens")))
    for item in grouped:
        name = item[column] or NOBODY[by]
        row = found.setdefault(name, Row(name))
        prompt, completion = item["p"] or 0, item["c"] or 0
        row.requests += item["n"]
        row.succeeded += item["ok"]
        row.prompt_tokens += prompt
        row.completion_tokens += completion
        price_in, price_out = prices.get(item["engine_name"], (Decimal(0), Decimal(0)))
        row.cost += (prompt * price_in + completion * price_out) / Decimal(1_000_000)
    return sorted(found.values(), key=lambda r: (-r.requests, r.name))


def total(found: list[Row]) -> Row:
    row = Row("Total")
    for r in found:
        row.requests += r.requests
        row.succeeded += r.succeeded
        row.prompt_tokens += r.prompt_tokens
        row.completion_tokens += r.completion_tokens
        row.cost += r.cost
    return row


def chart(period: str, by: str, found: list[Row], now: datetime | None = None
          ) -> dict[str, Any]:
    """Tokens per day (per hour over a day) for the busiest groups, every bucket present."""
    now = now or timezone.now()
    size = "hour" if period == "day" else "day"
    column = GROUPS[by]
    drawn = [r.name for r in found[:CHART_SERIES]]
    # A day's step is 25 h, truncated again: a change of daylight saving time skips nothing.
    step = timedelta(hours=1) if size == "hour" else timedelta(hours=25)
    start = _start_of(since(period, now), size)
    labels, at = [], start
    while at <= now:
        labels.append(at)
        at = _start_of(at + step, size)
    index = {at: i for i, at in enumerate(labels)}
    series = {name: [0] * len(labels) for name in [*drawn, "others"]}
    for item in (Generation.objects.filter(created__gte=since(period, now))
                 .annotate(bucket=Trunc("created", size))
                 .values("bucket", column)
                 .annotate(t=Sum("prompt_tokens") + Sum("completion_tokens"))):
        name = item[column] or NOBODY[by]
        slot = index.get(_start_of(item["bucket"], size))
        if slot is not None:
            series[name if name in series else "others"][slot] += item["t"] or 0
    if not any(series["others"]):
        del series["others"]
    return {"labels": [at.isoformat() for at in labels], "size": size,
            "series": [{"name": n, "tokens": v} for n, v in series.items()]}


def _start_of(at: datetime, size: str) -> datetime:
    local = timezone.localtime(at).replace(minute=0, second=0, microsecond=0)
    return local if size == "hour" else local.replace(hour=0)


def as_csv(period: str, by: str, found: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([by, "period", "requests", "succeeded", "prompt_tokens",
                     "completion_tokens", "tokens", "cost"])
    for r in found:
        writer.writerow([_safe(r.name), period, r.requests, r.succeeded, r.prompt_tokens,
                         r.completion_tokens, r.tokens, f"{r.cost:.6f}"])
    return out.getvalue()


def _safe(text: str) -> str:
    """A spreadsheet must not run a name as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
