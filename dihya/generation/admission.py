"""Who asks for a generation, and what the pipeline carries for it from admission to the end.

Small on purpose and importing nothing of the pipeline: gates, jobs and the API all name these
two types, and none of them should need the pipeline to do so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dihya.gateway.models import ApiClient, Generation
from fallbacks.residency import ANYWHERE, Residency
from fallbacks.runner import AttemptRecord
from fallbacks.spec import Request, RouteSpec
from quotas.bounds import Standing


@dataclass(slots=True)
class Caller:
    """Who asks: an API client (with the routes it may use), or an operator (client None)."""

    client: ApiClient | None
    allowed_routes: frozenset[int] | None = None  # None: every route
    source: str = Generation.Source.COMMAND


@dataclass(frozen=True, slots=True)
class PendingLink:
    """A consent link promised in a refusal, issued once the admission's rollback is done."""

    client: ApiClient
    end_user: str
    created: datetime  # the link's token is a keyed hash of its fields (audit.identities)


@dataclass(slots=True)
class Admission:
    """One generation on its way: its row, the route and request it runs, and what guards and
    listeners learn about it on the way — each under its own name, typed, so that a reader can
    see who writes and who reads it (no bag of notes)."""

    generation: Generation
    route: RouteSpec
    request: Request  # a chat completion or embeddings: the same gates for both
    caller: Caller
    include_usage: bool = False
    #: What the answer tells the client beyond our ids: rate limits, dropped parameters.
    headers: dict[str, str] = field(default_factory=dict)
    #: The attempts as written at the end (None until then: listeners read them back).
    attempts: list[AttemptRecord] | None = None
    #: The plan whose limit refused the call (for the metrics' label), else "".
    quota_plan: str = ""
    #: What the quota guard charged at admission (standings and amounts), given back if the
    #: admission rolls back: the quota tally's charge is in Redis, outside the transaction.
    quota_charge: tuple[list[Standing], dict[str, int]] | None = None
    #: The consent link a refusal promised (the consent guard issues it after the rollback).
    pending_link: PendingLink | None = None
    #: The trace context the request came in (OpenTelemetry's), for the generation's span.
    trace_parent: Any = None
    #: A live call's span, opened at admission and ended with its end (dihya.observability).
    trace_span: Any = None
    #: Tools the client sent that no engine can run (hosted tools: web search…), left out by
    #: its dialect and named in the answer's headers and the audit event.
    dropped_tools: list[str] = field(default_factory=list)
    #: Where its data may be processed (the client's and the person's residency policy).
    residency: Residency = ANYWHERE
