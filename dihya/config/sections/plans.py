"""`plans:` — quota plans: their limits and alert thresholds.

```yaml
plans:
  - name: starter
    limits: [{requests: 20, per: minute}, {tokens: 100000, per: day, hard: false}]
    alerts: [50, 80, 100]
  - {name: people, default: true, limits: [{requests: 200, per: day}]}
```
Each limit names exactly one metric (`requests`, `tokens` or `cost`, the latter in millionths
of the price unit) with its amount, a period, and `hard` (default true: blocks; false: only
alerts). `batch_requests`, `batch_tokens` and `batch_cost` count the lines of batches only
(e.g. `{batch_tokens: 5000000, per: day}`); the others count every call, batch lines included.
`default: true` makes the plan the one for end users without their own; a file that names a
default takes the flag from any other plan. Clients get a plan with `plan:` in
`clients:`; assignments to accounts stay in the admin.
"""

from __future__ import annotations

from typing import Literal

from django.db import transaction
from pydantic import Field, model_validator

from dihya.config.base import Item, Plan, Section, Strict
from quotas.models import Limit
from quotas.models import Plan as QuotaPlan

METRICS = ("requests", "tokens", "cost", "batch_requests", "batch_tokens", "batch_cost")


class LimitItem(Strict):
    requests: int | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)
    cost: int | None = Field(default=None, ge=0)
    batch_requests: int | None = Field(default=None, ge=0)
    batch_tokens: int | None = Field(default=None, ge=0)
    batch_cost: int | None = Field(default=None, ge=0)
    per: Literal["minute", "hour", "day", "month"]
    hard: bool = True

    @model_validator(mode="after")
    def _one_metric(self) -> LimitItem:
        if sum(getattr(self, m) is not None for m in METRICS) != 1:
            raise ValueError("name exactly one of requests, tokens or cost (or batch_requests, "
                             "batch_tokens, batch_cost: batch lines only), with its amount")
        return self

    @property
    def metric(self) -> str:
        return next(m for m in METRICS if getattr(self, m) is not None)

    @property
    def amount(self) -> int:
        return int(getattr(self, self.metric))


class PlanItem(Item):
    name: str = Field(min_length=1, max_length=64)
    default: bool = False
    limits: list[LimitItem] = Field(default_factory=list)
    alerts: list[int] = Field(default_factory=list)


class PlansSection(Section[PlanItem]):
    key = "plans"
    kind = "plan"
    item = PlanItem

    def existing_names(self) -> set[str]:
        return set(QuotaPlan.objects.values_list("name", flat=True))

    def check(self, plan: Plan) -> list[str]:
        problems = []
        items = plan.items["plans"] or []
        defaults = [p.name for p in items if p.default]
        if len(defaults) > 1:
            problems.append(f"plans: only one plan can be the default ({', '.join(defaults)})")
        for i, item in enumerate(items):
            seen: set[tuple[str, str]] = set()
            for j, limit in enumerate(item.limits):
                if (limit.metric, limit.per) in seen:
                    problems.append(f"plans[{i}].limits[{j}]: a second {limit.metric} limit "
                                    f"per {limit.per}")
                seen.add((limit.metric, limit.per))
            problems += [f"plans[{i}].alerts[{j}]: a percentage between 1 and 1000"
                         for j, t in enumerate(item.alerts) if not 0 < t <= 1000]
        return problems

    def snapshot(self, names: set[str] | None = None) -> dict[str, PlanItem]:
        plans = QuotaPlan.objects.prefetch_related("limits")
        if names is not None:
            plans = plans.filter(name__in=names)
        return {p.name: PlanItem.model_construct(
            name=p.name, default=p.is_default, alerts=list(p.alerts),
            limits=[LimitItem.model_construct(**{lim.metric: lim.amount}, per=lim.period,  # type: ignore[arg-type]
                                              hard=lim.hard) for lim in p.limits.all()],
        ) for p in plans}

    def same(self, wanted: PlanItem, current: PlanItem) -> bool:
        # Order means nothing in limits and thresholds: compare them as sets.
        def limits(item: PlanItem) -> set[tuple[str, str, int, bool]]:
            return {(lim.metric, lim.per, lim.amount, lim.hard) for lim in item.limits}

        return (wanted.default == current.default and limits(wanted) == limits(current)
                and sorted(set(wanted.alerts)) == sorted(set(current.alerts)))

    def write(self, item: PlanItem) -> None:
        with transaction.atomic():
            if item.default:
                QuotaPlan.objects.exclude(name=item.name).filter(is_default=True).update(
                    is_default=False)
            plan, _ = QuotaPlan.objects.update_or_create(
                name=item.name, defaults={"is_default": item.default,
                                          "alerts": sorted(set(item.alerts))})
            plan.limits.all().delete()
            Limit.objects.bulk_create(Limit(plan=plan, metric=lim.metric, period=lim.per,
                                            amount=lim.amount, hard=lim.hard)
                                      for lim in item.limits)

    def delete(self, names: set[str]) -> None:
        QuotaPlan.objects.filter(name__in=names).delete()


section = PlansSection()
