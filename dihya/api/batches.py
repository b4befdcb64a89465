"""OpenAI's Batch API: POST/GET /v1/batches, GET /v1/batches/{id}, POST …/{id}/cancel.

Thin: the key's `jobs` scope, then `dihya.batches.lifecycle`; the lines run on the workers
(`dihya.api.batch_lines`, handed over by `dihya.batches.scheduler`). A client sees only its
own batches; another's id is the same 404 as an unknown one.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router, Schema
from pydantic import Field

from dihya.api.auth import BearerKey, caller
from dihya.api.schemas import ERRORS
from dihya.batches import lifecycle, scheduler
from dihya.gateway import keys
from dihya.gateway.models import Generation
from dihya.generation import hops

router = Router(tags=["Files and batches"], auth=BearerKey())


class BatchBody(Schema):
    input_file_id: str = Field(..., max_length=64)
    endpoint: str = Field(..., max_length=32)
    completion_window: str = Field("24h", max_length=8)
    metadata: dict[str, str] | None = None


def created(token: str, body: BatchBody) -> dict[str, Any]:
    who = caller(token, Generation.Source.JOB)
    assert who.client is not None
    verified = keys.verify(token)
    batch = lifecycle.create(who.client, verified.key_id if verified else None,
                             input_file_id=body.input_file_id, endpoint=body.endpoint,
                             completion_window=body.completion_window,
                             metadata=body.metadata)
    scheduler.top_up()  # the first slice is handed over when the batch is committed
    return lifecycle.batch_object(batch)


@router.post("/batches", response={200: dict[str, Any], **ERRORS}, summary="Create a batch",
             operation_id="create_batch")
async def create(request: HttpRequest, body: BatchBody) -> HttpResponse:
    """`endpoint` must be the `url` of every line of the input file, else the batch is
    `failed` with `errors` naming the line. `completion_window` is `24h`: lines not run by
    then are `expired`."""
    return JsonResponse(await hops.db(created)(request.auth, body))  # type: ignore[attr-defined]


def one(token: str, batch_id: str) -> dict[str, Any]:
    client = caller(token, Generation.Source.JOB).client
    assert client is not None
    return lifecycle.batch_object(lifecycle.find(client, batch_id))


@router.get("/batches/{batch_id}", response={200: dict[str, Any], **ERRORS},
            summary="Retrieve a batch", operation_id="retrieve_batch")
async def retrieve(request: HttpRequest, batch_id: str) -> HttpResponse:
    return JsonResponse(await hops.db(one)(request.auth, batch_id))  # type: ignore[attr-defined]


class Page(Schema):
    after: str | None = None
    limit: int = Field(20, ge=1, le=100)


def listed(token: str, page: Page) -> dict[str, Any]:
    client = caller(token, Generation.Source.JOB).client
    assert client is not None
    mine = lifecycle.owned(client).order_by("-created_at", "-pk")
    if page.after and (anchor := mine.filter(pk=page.after).first()):
        mine = mine.filter(created_at__lt=anchor.created_at)
    rows = [lifecycle.batch_object(b) for b in mine[:page.limit + 1]]
    data = rows[:page.limit]
    return {"object": "list", "data": data, "has_more": len(rows) > page.limit,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}


@router.get("/batches", response={200: dict[str, Any], **ERRORS}, summary="List batches",
            operation_id="list_batches")
async def list_batches(request: HttpRequest, page: Query[Page]) -> HttpResponse:
    return JsonResponse(await hops.db(listed)(request.auth, page))  # type: ignore[attr-defined]


def cancelled(token: str, batch_id: str) -> dict[str, Any]:
    client = caller(token, Generation.Source.JOB).client
    assert client is not None
    return lifecycle.batch_object(lifecycle.cancel(lifecycle.find(client, batch_id)))


@router.post("/batches/{batch_id}/cancel", response={200: dict[str, Any], **ERRORS},
             summary="Cancel a batch", operation_id="cancel_batch")
async def cancel(request: HttpRequest, batch_id: str) -> HttpResponse:
    """Lines not started are cancelled; lines running finish and are kept. `cancelling`
    until they have, then `cancelled`."""
    return JsonResponse(await hops.db(cancelled)(request.auth, batch_id))  # type: ignore[attr-defined]
