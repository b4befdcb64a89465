"""The jobs API: queue a generation for the workers, read it (long-polling), cancel it.

Same body and same pipeline as chat completions; the job then runs on a django-q2 worker
(`dihya.generation.jobs`). A client sees only its own jobs: any other id, or one that is
not a UUID, is 404 `generation_not_found`, so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router, Schema
from pydantic import Field

from dihya.api.auth import BearerKey, caller
from dihya.api.openai import answer_headers
from dihya.api.schemas import ERRORS, ErrorBody, Job, JobAccepted
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from dihya.generation import callbacks, hops, jobs, pipeline
from dihya.generation.errors import Refusal
from dihya.generation.pipeline import Caller
from dihya.generation.requests import EmbeddingJobBody, JobBody

router = Router(tags=["Jobs"], auth=BearerKey())

MAX_WAIT = 30.0
FIRST_DELAY, MAX_DELAY = 0.05, 0.5  # long-poll backoff: quick answers come quick, no hammering
# Long-polls in progress in this process, by key digest. Only touched on the event loop.
_waiting: Counter[str] = Counter()


class Wait(Schema):
    wait: float = Field(0, ge=0, le=MAX_WAIT,
                        description="Seconds to wait for a terminal state (long-poll), ≤ 30.")


def not_found(generation_id: str) -> Refusal:
    return Refusal(404, "generation_not_found", f"No generation {generation_id!r} for this key.",
                   param="id")


def own(client: ApiClient | None, generation_id: str) -> QuerySet[Generation]:
    """The caller's generation with this id, as a queryset: empty when it is not theirs."""
    try:
        pk = uuid.UUID(generation_id)
    except ValueError:
        raise not_found(generation_id) from None
    return Generation.objects.filter(pk=pk, client=client)


def status(client: ApiClient | None, generation_id: str) -> str:
    found = own(client, generation_id).values_list("status", flat=True).first()
    if found is None:
        raise not_found(generation_id)
    return found


def generation(client: ApiClient | None, generation_id: str) -> Generation:
    found = own(client, generation_id).first()
    if found is None:
        raise not_found(generation_id)
    return found


def job_caller(token: str, body: JobBody | EmbeddingJobBody) -> Caller:
    if isinstance(body, JobBody) and body.stream:
        raise Refusal(400, "invalid_request", "Jobs are not streamed: send `stream: false` or "
                      "use /v1/chat/completions.", param="stream")
    return caller(token, Generation.Source.JOB)


def submit_job(token: str, body: JobBody | EmbeddingJobBody, url: str = "",
               who: Caller | None = None) -> pipeline.Admission:
    admission = pipeline.admit(who or job_caller(token, body), body, queued=True,
                               callback_url=url)
    jobs.enqueue(admission.generation)
    return admission


@router.post("/generations", response={202: JobAccepted, **ERRORS}, summary="Queue a generation",
             operation_id="create_generation")
async def submit(request: HttpRequest, body: JobBody) -> HttpResponse:
    """Same body as chat completions, plus `callback_url`: when the job ends, its report (the
    GET answer, with `"dihya": {"kind", "client", "url"}`) is POSTed there, signed with
    `X-Dihya-Signature: t=<unix time>,v1=<hex>` where hex = HMAC-SHA256(the client's signing
    secret, "<t>.<raw body>")."""
    return await queued(request, body)


@router.post("/embeddings", response={202: JobAccepted, **ERRORS},
             summary="Queue an embeddings job", operation_id="create_embeddings_job")
async def submit_embeddings(request: HttpRequest, body: EmbeddingJobBody) -> HttpResponse:
    """Same body as /v1/embeddings, plus `callback_url`; read it as any job
    (`GET /api/v1/generations/{id}`): once succeeded, `embeddings` holds the vectors."""
    return await queued(request, body)


async def queued(request: HttpRequest, body: JobBody | EmbeddingJobBody) -> HttpResponse:
    token = request.auth  # type: ignore[attr-defined]
    url, who = "", None
    if body.callback_url:  # key checked first (a hop), then the URL resolved off the hops
        who = await hops.db(job_caller)(token, body)
        url = await callbacks.checked_url(body.callback_url)
    admission = await hops.db(submit_job)(token, body, url, who)
    gid = str(admission.generation.pk)
    headers = answer_headers(admission, "")
    del headers["X-Dihya-Engine"]  # not chosen yet: the worker decides
    headers["Location"] = f"/api/v1/generations/{gid}"
    return JsonResponse({"id": gid, "status": "queued"}, status=202, headers=headers)


def status_of(token: str, generation_id: str) -> tuple[ApiClient | None, str]:
    client = caller(token, Generation.Source.JOB).client
    return client, status(client, generation_id)


def report_of(client: ApiClient | None, generation_id: str) -> dict[str, Any]:
    return callbacks.report(generation(client, generation_id))


@router.get("/generations/{generation_id}", response={200: Job, **ERRORS},
            summary="Read a generation (long-poll with ?wait=N)", operation_id="get_generation")
async def read(request: HttpRequest, generation_id: str, params: Query[Wait]) -> HttpResponse:
    """Status, result, usage, serving engine and attempts. With `wait`, answers as soon as the
    job reaches a terminal state, or after `wait` seconds with its current state. A key may
    hold DIHYA_MAX_WAITS_PER_KEY waits at a time per server process; one more is
    `429 too_many_waits` (`Retry-After: 1`)."""
    if not params.wait:
        return await answer(request, generation_id, 0)
    with waiting(request.auth):  # type: ignore[attr-defined]
        return await answer(request, generation_id, params.wait)


@contextmanager
def waiting(token: str) -> Iterator[None]:
    """Hold one of the key's long-poll places, or refuse with a 429.

    Refused rather than answered at once with the current state: a client looping on
    `?wait=` (as docs/api.md shows) would then spin, two queries a turn, which is the very
    load the cap is for; a 429 costs no query and tells it to slow down."""
    digest = keys.digest_of(token)
    if _waiting[digest] >= settings.DIHYA_MAX_WAITS_PER_KEY:
        raise Refusal(429, "too_many_waits",
                      f"This key already waits on {_waiting[digest]} generations: wait for "
                      "one to answer, or poll without `wait`.", param="wait",
                      headers={"Retry-After": "1"})
    _waiting[digest] += 1
    try:
        yield
    finally:
        _waiting[digest] -= 1
        if not _waiting[digest]:
            del _waiting[digest]


async def answer(request: HttpRequest, generation_id: str, wait: float) -> HttpResponse:
    client, now = await hops.db(status_of)(request.auth,  # type: ignore[attr-defined]
                                                 generation_id)
    deadline = time.monotonic() + wait
    delay = FIRST_DELAY
    while now not in Generation.TERMINAL and (left := deadline - time.monotonic()) > 0:
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 1.5, MAX_DELAY)
        now = await hops.db(status)(client, generation_id)
    body = await hops.db(report_of)(client, generation_id)
    headers = {"X-Dihya-Generation": body["id"]}
    if body["engine"]:
        headers["X-Dihya-Engine"] = body["engine"]
    return JsonResponse(body, headers=headers)


def cancel_job(token: str, generation_id: str) -> dict[str, Any]:
    client = caller(token, Generation.Source.JOB).client
    job = generation(client, generation_id)
    if not jobs.cancel(job):
        job.refresh_from_db(fields=["status"])
        raise Refusal(409, "generation_not_cancellable",
                      f"The generation is {job.status}: only a queued one can be cancelled.",
                      param="id")
    job.refresh_from_db()
    return callbacks.report(job)


@router.delete("/generations/{generation_id}", response={200: Job, 409: ErrorBody, **ERRORS},
               summary="Cancel a queued generation", operation_id="cancel_generation")
async def cancel(request: HttpRequest, generation_id: str) -> HttpResponse:
    body = await hops.db(cancel_job)(request.auth,  # type: ignore[attr-defined]
                                           generation_id)
    return JsonResponse(body, headers={"X-Dihya-Generation": body["id"]})
