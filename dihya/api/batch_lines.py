"""One line of a batch, run on a worker as the live call with the same body would be.

The line's body is read in its endpoint's dialect (chat completions, embeddings, Responses),
admitted by the one pipeline with the grant of the key that created the batch (its client's
routes, its `jobs` scope; consent for the line's `user`, quota), executed with fallbacks, and
recorded; its answer is formatted by the same dialect as the live answer. A refusal (a bad
body, quota, consent, no engine) is the line's error, with the error object a live call would
get; the batch goes on.

Exactly once: the line is claimed queued → running (`scheduler.claim`); its end and its
generation's end are written in ONE transaction, fenced on the line's delivery count, so a
run overtaken by the sweep (its worker thought dead) writes nothing — its generation, still
running, is failed by the reaper and its reservation released: charged once, by the run that
ended the line. Here because it speaks the dialects, which `dihya.batches` must not import.

Engines' batch shares: a line whose route has no engine with room in its share goes back to
pending before it is admitted (no generation, nothing charged); one that lost the last ticket
to another line between that look and its run ends its generation `batch_share_full` (it ran
nothing: its reservation is released) and goes back to pending too. Either way it runs later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import DatabaseError, transaction
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError

from dihya.api import refusal_of
from dihya.api import responses as responses_api
from dihya.api.dialects import openai_chat, openai_embeddings
from dihya.api.dialects.responses import ResponsesBody
from dihya.api.dialects.responses_out import Answering, completed
from dihya.batches import lifecycle, scheduler
from dihya.batches.models import Batch, BatchLine
from dihya.gateway.models import Generation
from dihya.generation import hops, pipeline, stored_responses
from dihya.generation.admission import Admission, Caller
from dihya.generation.errors import Refusal
from dihya.generation.reconnect import retrying
from dihya.generation.requests import ChatBody, EmbeddingBody
from dihya.lib import loop
from fallbacks import catalog, slots
from fallbacks.runner import BATCH_SHARE_FULL, EmbedResult, RunFailed, RunResult

log = logging.getLogger(__name__)
L = BatchLine.Status
B = TypeVar("B", bound=BaseModel)


class Overtaken(Exception):
    """The line is no longer this run's: roll its end and its generation's back."""


@dataclass
class Admitted:
    admission: Admission
    answer: Callable[[Any], dict[str, Any]]  # the outcome → the live call's answer body


def caller_of(batch: Batch) -> Caller:
    """The grant the batch's key has now: a key revoked or expired since refuses its lines."""
    key = batch.key
    if key is None or not key.is_usable or not batch.client.active:
        raise Refusal(401, "invalid_api_key",
                      "The API key that created this batch is revoked or expired.")
    if "jobs" not in key.scopes:
        raise Refusal(403, "scope_not_allowed", "This API key has no 'jobs' scope.")
    routes = frozenset(batch.client.routes.values_list("id", flat=True))
    return Caller(client=batch.client, allowed_routes=routes, source=Generation.Source.BATCH)


def validated(schema: type[B], body: dict[str, Any]) -> B:
    try:
        return schema.model_validate(body)
    except PydanticError as exc:
        raise refusal_of([{**e, "loc": ("body", "body", *e["loc"])}
                          for e in exc.errors()]) from None


def not_streamed(stream: bool | None) -> None:
    if stream:
        raise Refusal(400, "invalid_request", "Batch requests are not streamed: send "
                      "`stream: false`.", param="stream")


def admitted(line: BatchLine) -> Admitted:
    who, endpoint = caller_of(line.batch), line.batch.endpoint
    if endpoint == "/v1/embeddings":
        embedding = validated(EmbeddingBody, line.body)
        admission = pipeline.admit(who, embedding)
        return Admitted(admission, lambda r: openai_embeddings.answer(
            admission, r, embedding.encoding_format))
    if endpoint == "/v1/responses":
        body = validated(ResponsesBody, line.body)
        not_streamed(body.stream)
        admission, translation = responses_api.admit_as(who, body)
        answering = Answering(admission.generation.pk.hex, body, translation, body.model)

        def answer(result: RunResult) -> dict[str, Any]:
            out = completed(answering, result.completion)
            if body.store:
                stored_responses.keep(admission.generation, translation.items, out)
            return out
        return Admitted(admission, answer)
    chat = validated(ChatBody, line.body)
    not_streamed(chat.stream)
    admission = pipeline.admit(who, chat)
    return Admitted(admission, lambda r: openai_chat.completion(admission, r))


def run(line_id: UUID | str) -> str:
    """Run one queued line to its end. Returns the line's status.

    Each step that touches the database runs again on a new connection if the worker's dies
    (`reconnect.retrying`): a line whose connection was lost while its engine thought ends
    seconds later, by this run. (Should an admission's commit be acknowledged to nobody, the
    line is admitted again; the first generation, never ended, is failed by the reaper and
    its reservation released: the line is still charged once.)"""
    line = scheduler.claim(line_id)
    if line is None:
        return retrying(BatchLine.objects.filter(pk=line_id).values_list(
            "status", flat=True).first) or "missing"
    if not retrying(share_room, line):
        return retrying(waiting, line, retrying(scheduler.put_back, line.pk, line.deliveries))
    try:
        ready = retrying(admitted, line)
    except Refusal as refusal:
        retrying(scheduler.end, line.pk, line.deliveries, L.FAILED, refusal.status,
                 refusal.body())
    except DatabaseError:
        raise  # still failing past DIHYA_DB_RETRY: the line stays running, the sweep re-runs it
    except Exception:  # a body no check foresaw: what the live call would answer, a 500
        log.exception("batch line %s could not be admitted", line.pk)
        crashed = Refusal(500, "internal_error", "Internal error; it was logged.",
                          type_="api_error")
        retrying(scheduler.end, line.pk, line.deliveries, L.FAILED, 500, crashed.body())
    else:
        outcome = loop.run(pipeline.execute(ready.admission),
                           timeout=settings.DIHYA_JOB_DEADLINE + 15)
        try:
            status = retrying(written, line, ready, outcome)
        except Overtaken:
            log.warning("batch line %s: overtaken (re-queued meanwhile); its end is not "
                        "written", line.pk)
        else:
            if status not in BatchLine.ENDED:
                return retrying(waiting, line, status)
    retrying(lifecycle.finish_if_done, line.batch_id)
    retrying(scheduler.top_up)
    return retrying(BatchLine.objects.values_list("status", flat=True).get, pk=line.pk)


def share_room(line: BatchLine) -> bool:
    """Whether an engine of the line's route has room in its batch share now (a look before
    a generation is made for it: the runner's ticket is what holds the share)."""
    route = catalog.route_spec(str(line.body.get("model") or ""))
    return route is None or slots.batch_room(route.engines)


def waiting(line: BatchLine, status: str) -> str:
    """A line put back for its engines' batch shares: no top-up (it would be handed straight
    back); one cancelled instead (its batch is being cancelled) may end the batch."""
    if status == L.CANCELLED:
        lifecycle.finish_if_done(line.batch_id)
    return status or BatchLine.objects.values_list("status", flat=True).get(pk=line.pk)


def written(line: BatchLine, ready: Admitted, outcome: Any) -> str:
    """The generation's end and the line's, together or not at all. Returns the line's
    status: pending again if the run found every engine at its batch share."""
    generation_id = ready.admission.generation.pk
    with hops.one_writer(), transaction.atomic():
        try:
            pipeline.record(ready.admission, outcome)
            assert isinstance(outcome, (RunResult, EmbedResult))  # record raised otherwise
            status, code, body = L.SUCCEEDED, 200, ready.answer(outcome)
        except Refusal as refusal:
            if isinstance(outcome, RunFailed) and outcome.code == BATCH_SHARE_FULL:
                if not (put := scheduler.put_back(line.pk, line.deliveries)):
                    raise Overtaken from None
                return put
            status, code, body = L.FAILED, refusal.status, refusal.body()
        if not scheduler.end(line.pk, line.deliveries, status, code, body, generation_id):
            raise Overtaken
    return status
