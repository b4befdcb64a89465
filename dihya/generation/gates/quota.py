"""The quota step of the pipeline: reserve at admission, settle or release at the end.

Admission reserves one request and the token estimate (and cost, for plans with cost limits)
against the client's and the end user's limits (a batch line's against their batch-only
limits too), in the admission transaction: a refusal rolls
back every increment and nothing reaches an engine. The answer's OpenAI rate-limit headers go
into `admission.headers`. `finish` settles to the real usage, or releases everything
when the generation sent nothing (it failed before its answer began, or was cancelled); a call
whose answer began is charged its request and what it served, however it ended. Both are
idempotent per generation id, so a re-delivered job is never charged twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.utils import timezone

from dihya.gateway.models import Generation
from dihya.generation import identity
from dihya.generation.errors import Refusal
from dihya.generation.gates import Guard
from quotas import ledger, plans, windows

if TYPE_CHECKING:
    from collections.abc import Sequence
    from uuid import UUID

    from dihya.generation.admission import Admission
    from fallbacks.spec import Usage


class QuotaGate(Guard):
    def admit(self, admission: Admission) -> None:
        g = admission.generation
        bounds = plans.bounds_for(g.client_id, g.user_id, identity.charged_as(g),
                                  batch=g.source == Generation.Source.BATCH)
        if not bounds:
            return
        request = admission.request
        tokens = plans.estimate_tokens(request.prompt_chars, request.max_tokens)
        amounts = {"requests": 1, "tokens": tokens}
        if any(b.counts == "cost" for b in bounds):
            amounts["cost"] = plans.estimate_cost(tokens - request.max_tokens,
                                                  request.max_tokens,
                                                  (e.id for e in admission.route.engines))
        now = timezone.now()
        try:
            standings = ledger.reserve(g.pk, bounds, amounts, now=now)
        except ledger.QuotaExceeded as exceeded:
            headers = rate_limit_headers(ledger.status(bounds, now=now), now)
            headers["Retry-After"] = str(exceeded.retry_after)
            admission.quota_plan = exceeded.standing.bound.plan  # for the metrics
            raise Refusal(429, "quota_exceeded", str(exceeded), headers=headers) from None
        admission.quota_charge = (standings, amounts)
        admission.headers.update(rate_limit_headers(standings, now))

    def rolled_back(self, admission: Admission) -> None:
        if admission.quota_charge is not None:
            ledger.unreserve(admission.generation.pk, *admission.quota_charge)
            admission.quota_charge = None

    def finish(self, admission: Admission, usage: Usage | None) -> None:
        closing = closing_of(admission, usage)
        if closing.release:
            ledger.release(closing.generation_id)
        else:
            ledger.settle(closing.generation_id, tokens=closing.tokens, cost=closing.cost)

    def finish_many(self, ended: Sequence[tuple[Admission, Usage | None]]) -> None:
        """A batch: its reservations closed in two statements, its counters moved once each."""
        ledger.close_many([closing_of(admission, usage) for admission, usage in ended])

    def overtaken(self, admission: Admission, usage: Usage | None) -> None:
        """A live call (its client got the answer) that outlived its row: the reaper released
        its reservation, yet the tokens were served. Count them, past any limit: it happened.
        A worker's run that was overtaken served nobody (its job ran again, or failed)."""
        g = admission.generation
        if usage is None or g.deliveries:
            return
        ledger.charge_served(g.pk, tokens=usage.total_tokens,
                             cost=lambda: plans.real_cost(usage.prompt_tokens,
                                                          usage.completion_tokens,
                                                          g.engine_id))

    def cancelled(self, generation_id: UUID) -> None:
        """A queued job cancelled before it ran (by its client, or a consent withdrawal)."""
        ledger.release(generation_id)


def closing_of(admission: Admission, usage: Usage | None) -> ledger.Closing:
    """How a finished generation's reservation ends: released if it sent nothing (it failed
    before its answer began, or was cancelled), else settled to its real usage — a failed call
    handed a usage served part of an answer (a dropped stream, a reaped call whose answer
    began), and its request counts."""
    g = admission.generation
    if usage is None:
        return ledger.Closing(g.pk, release=True)
    # No usage for a real answer (the engine did not count it, or nothing is known of a reaped
    # call but that it began): the conservative estimate reserved is the charge.
    answered = bool(g.result or g.tool_calls) or g.status == Generation.Status.FAILED
    tokens = None if usage.total_tokens == 0 and answered else usage.total_tokens
    return ledger.Closing(g.pk, tokens=tokens, cost=lambda: plans.real_cost(
        usage.prompt_tokens, usage.completion_tokens, g.engine_id))


def rate_limit_headers(standings: list[ledger.Standing], now: dt.datetime) -> dict[str, str]:
    """OpenAI's x-ratelimit-* headers for requests and tokens, from the tightest limit."""
    headers: dict[str, str] = {}
    for metric in ("requests", "tokens"):
        relevant = [s for s in standings if s.bound.metric == metric]
        if not relevant:
            continue
        tightest = min(relevant, key=lambda s: (s.remaining, s.resets_at))
        headers[f"x-ratelimit-limit-{metric}"] = str(tightest.bound.amount)
        headers[f"x-ratelimit-remaining-{metric}"] = str(tightest.remaining)
        headers[f"x-ratelimit-reset-{metric}"] = windows.duration(
            (tightest.resets_at - now).total_seconds())
    return headers
