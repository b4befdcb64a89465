"""`GET /api/v1/engines`: the circuit breaker of every engine a key may reach.

Clients of other gateways ask for this to see why their calls go to a fallback. A key sees
the engines of the routes it may use (all, if it may use every route); never their URLs or
credentials.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from dihya.api.auth import BearerKey, caller
from dihya.api.schemas import ERRORS
from dihya.gateway.models import Generation
from dihya.generation import hops
from fallbacks import breaker_control

router = Router(tags=["Engines"], auth=BearerKey())

FIELDS = ("engine", "state", "reason", "forced", "failures", "since", "next_probe",
          "last_error", "last_failure", "last_seen_up")


class EngineState(Schema):
    engine: str
    state: str
    reason: str
    forced: bool
    failures: int
    since: str | None
    next_probe: str | None
    last_error: str
    last_failure: str | None
    last_seen_up: str | None


class EngineList(Schema):
    object: str = "list"
    data: list[EngineState]


def engines_for(token: str) -> dict[str, Any]:
    who = caller(token, Generation.Source.CHAT, scope="")
    rows = breaker_control.snapshot(who.allowed_routes)
    return {"object": "list",
            "data": [{k: row[k] for k in FIELDS} for row in rows if row["enabled"]]}


@router.get("/engines", response={200: EngineList, **ERRORS},
            summary="Engines and their circuit breakers", operation_id="list_engines")
async def list_engines(request: HttpRequest) -> dict[str, Any]:
    """State (closed, open, half_open), why, since when, the next probe and the last error."""
    return await hops.db(engines_for)(request.auth)  # type: ignore[attr-defined]
