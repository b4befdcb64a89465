"""Who asks for a generation, and what the pipeline carries for it from admission to the end.

Small on purpose and importing nothing of the pipeline: gates, jobs and the API all name these
two types, and none of them should need the pipeline to do so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dihya.gateway.models import ApiClient, Generation
from fallbacks.spec import Request, RouteSpec


@dataclass(slots=True)
class Caller:
    """Who asks: an API client (with the routes it may use), or an operator (client None)."""

    client: ApiClient | None
    allowed_routes: frozenset[int] | None = None  # None: every route
    source: str = Generation.Source.COMMAND


@dataclass(slots=True)
class Admission:
    """One generation on its way: its row, the route and request it runs, and gates' notes."""

    generation: Generation
    route: RouteSpec
    request: Request  # a chat completion or embeddings: the same gates for both
    caller: Caller
    include_usage: bool = False
    notes: dict[str, Any] = field(default_factory=dict)  # what gates tell the client (headers)
