"""Which limits apply to a call, and how much a call is expected to use.

Both the API client's plan and the end user's plan apply: the client's as subject
`client:<id>`, the end user's as `user:<pseudonym>`. An end user's plan is the one assigned to
their Dihya account, else the default plan. Calls with no client (operator commands) and no
end user are not counted. A plan's batch-only limits (`batch_requests`, `batch_tokens`,
`batch_cost`) apply to the lines of batches alone: the caller says whether a call is one.

The token estimate is deliberately simple and conservative: characters / 4 (rounded up) of the
messages — about one token per four characters of English text — plus the call's `max_tokens`
(the client's, or the route's cap). Settling replaces it by the engine's real count.
Cost is counted in millionths of the price unit: a price per million tokens times a number of
tokens gives millionths directly, so counters stay integers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db.models import Q

from dihya.lib.memo import Remembered
from dihya.lib.pseudonyms import pseudonym
from quotas.bounds import Bound, batch_only
from quotas.models import Assignment, EnginePrice, Limit


def client_subject(client_id: int) -> str:
    return f"client:{client_id}"


def user_subject(end_user: str) -> str:
    return f"user:{pseudonym(end_user)}"


def bounds_for(client_id: int | None, user_id: int | None, end_user: str, *,
               batch: bool = False) -> list[Bound]:
    """Every limit that applies to a call from this client for this end user. `batch`: the
    call is a line of a batch, so the plans' batch-only limits (`batch_tokens`…) apply too.

    The plans behind them are remembered per process behind the "plans stamp"
    (`dihya.lib.memo`, like routes and keys: they change rarely and cost two queries a call);
    an edit applies in this process at once, in every other one on its next call with Redis
    as the cache, within DIHYA_PLAN_CACHE_SECONDS without. Counters are never remembered:
    the limits stay exact."""
    key = (client_id, user_id if end_user else None, bool(end_user))
    client_plan, user_plan, rows = _remembered.get(
        key, lambda: _plans_for(client_id, user_id, end_user))
    if client_plan is None and not end_user:
        return []
    bounds = []
    for plan_id, name, alerts, is_default, metric, period, amount, hard in rows:
        if batch_only(metric) and not batch:
            continue
        thresholds = tuple(sorted(alerts or ()))
        if client_id is not None and plan_id == client_plan:
            bounds.append(Bound(client_subject(client_id), metric, period, amount, hard,
                                thresholds, name))
        if end_user and (plan_id == user_plan if user_plan is not None else is_default):
            bounds.append(Bound(user_subject(end_user), metric, period, amount, hard,
                                thresholds, name))
    return bounds


_remembered: Remembered[tuple] = Remembered(
    "dihya:plans:stamp", lambda: settings.DIHYA_PLAN_CACHE_SECONDS)


def forget(**_: object) -> None:
    """A plan, limit or assignment changed: read them again on the next call, here at once
    and in every process once the change commits."""
    _remembered.forget()


def clear() -> None:
    """Forget in this process only (tests, whose rollbacks send no signal)."""
    _remembered.clear()


def _plans_for(client_id: int | None, user_id: int | None, end_user: str) -> tuple:
    """(client's plan id, person's plan id, limit rows of both) in two queries."""
    client_plan = user_plan = None
    if client_id is not None or user_id is not None:
        match = Q(client_id=client_id) if client_id is not None else Q()
        if user_id is not None and end_user:
            match |= Q(user_id=user_id)
        for cid, plan_id in Assignment.objects.filter(match).values_list("client_id", "plan_id"):
            if cid is not None:
                client_plan = plan_id
            else:
                user_plan = plan_id
    wanted = Q(plan_id=client_plan) if client_plan is not None else Q(pk__in=[])
    if end_user:
        wanted |= Q(plan_id=user_plan) if user_plan is not None else Q(plan__is_default=True)
    if client_plan is None and not end_user:
        return client_plan, user_plan, ()
    rows = tuple(Limit.objects.filter(wanted).values_list(
        "plan_id", "plan__name", "plan__alerts", "plan__is_default", "metric", "period",
        "amount", "hard"))
    return client_plan, user_plan, rows


def estimate_tokens(chars: int, max_tokens: int) -> int:
    """The conservative estimate of a call: its characters / 4, rounded up, plus max_tokens."""
    return math.ceil(chars / 4) + max_tokens


def prices(engine_ids: Iterable[int]) -> dict[int, tuple[Decimal, Decimal]]:
    return {e: (i, o) for e, i, o in EnginePrice.objects.filter(engine_id__in=list(engine_ids))
            .values_list("engine_id", "input_per_million", "output_per_million")}


def estimate_cost(prompt_tokens: int, max_tokens: int, engine_ids: Iterable[int]) -> int:
    """The dearest engine of the route at the estimated usage: fallback may land anywhere."""
    known = prices(engine_ids)
    if not known:
        return 0
    return max(cost(prompt_tokens, max_tokens, p) for p in known.values())


def cost(prompt_tokens: int, completion_tokens: int,
         price: tuple[Decimal, Decimal] | None) -> int:
    if price is None:
        return 0
    return math.ceil(prompt_tokens * price[0] + completion_tokens * price[1])


def real_cost(prompt_tokens: int, completion_tokens: int, engine_id: int | None) -> int:
    if engine_id is None:
        return 0
    return cost(prompt_tokens, completion_tokens, prices([engine_id]).get(engine_id))
