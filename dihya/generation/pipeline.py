"""The one path every generation takes: validate → gates (consent, quota) → run → settle → record.

Chat completions and embeddings alike (`Request`): the same admission, gates and recording;
only the runner's verb differs (`run`/`start_stream` or `embed`).

Views, the django-q2 task and the `generate` command all come through here; none of them
re-implements a step. The database work of a request is one short synchronous transaction
before the engines are called (`admit`: one thread hop), and one after, written by the one
writer (`settle`) — handed to the batched recorder for the API's calls (`close`), so that
nothing is written on the call's path once the engine has answered; nothing holds a
transaction open while an engine thinks.

Gates (`dihya.generation.gates`) are where other apps plug in: each may refuse at admission
and is told how the generation ended. The worker (`resume`) and the reaper (`abandon`) go
through the same verbs, so no step is written twice. This module must never call an engine
outside `fallbacks.runner`, nor store a prompt anywhere but the generation row.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dihya.gateway.models import Generation
from dihya.generation import (
    capabilities,
    egress,
    embeddings,
    ending,
    gates,
    heartbeats,
    hops,
    identity,
    images,
    recorder,
    records,
    requests,
    settle,
)
from dihya.generation.admission import Admission, Caller
from dihya.generation.ending import Outcome, Served
from dihya.generation.errors import Refusal
from dihya.generation.requests import Body, ChatBody, EmbeddingBody
from fallbacks import breaker, catalog
from fallbacks.errors import ProviderError
from fallbacks.models import Engine
from fallbacks.residency import REGION_NOT_ALLOWED
from fallbacks.runner import EmbedResult, RunFailed, Runner, RunResult, StreamRun, aclose_quietly
from fallbacks.spec import ChatRequest, Delta, EmbeddingRequest, Request, RouteSpec, Usage
from quotas import plans

if TYPE_CHECKING:
    from django.contrib.auth.models import User

log = logging.getLogger(__name__)


__all__ = ["Admission", "Caller", "abandon", "admit", "complete", "embed", "resume", "stream"]

def runner() -> Runner:
    return Runner(health=breaker.health(), deadline=settings.DIHYA_JOB_DEADLINE,
                  masking=egress.masking())


# --- admission -------------------------------------------------------------------------------
def admit(caller: Caller, body: Body, *, queued: bool = False,
          callback_url: str = "", route: RouteSpec | None = None) -> Admission:
    """Check everything that can refuse a call, then create its generation row.

    `route` runs the call on a route given by the caller instead of the one `body.model`
    names: the admin's "Test engine" makes a one-engine route (`route_for` finds it again).
    """
    route = route or catalog.route_spec(body.model)
    if route is None:
        raise Refusal(404, "model_not_found", f"The model (route) {body.model!r} does not exist.",
                      param="model")
    if caller.allowed_routes is not None and route.id not in caller.allowed_routes:
        raise Refusal(403, "route_not_allowed",
                      f"This API key may not use the route {body.model!r}.", param="model")
    if isinstance(body, ChatBody):
        images.check(body)  # may resolve names: admission runs off the event loop
    if caller.client is not None and caller.client.drop_params:  # the app's own, everywhere
        route = replace(route, drop_params=route.drop_params | set(caller.client.drop_params))
    dropped = requests.unknown_fields(body, route.drop_params)
    request: Request
    if isinstance(body, EmbeddingBody):
        request = embeddings.request_of(body, route)
        kind, streamed = Generation.Kind.EMBEDDINGS, False
    else:
        request, dropped_too = capabilities.servable(chat_request(body, route), route)
        dropped += dropped_too
        kind, streamed = Generation.Kind.CHAT, body.stream
    generation = Generation(
        source=caller.source,
        kind=kind,
        client=caller.client,
        end_user=body.user or "",
        # AUTH_USER_MODEL is Django's User; identity speaks of any user model.
        user=cast("User | None", identity.resolve(caller.client, body.user or "")),
        route_id=route.id or None,  # 0: a one-engine route that exists only for this call
        route_name=route.name,
        status=Generation.Status.QUEUED if queued else Generation.Status.RUNNING,
        started=None if queued else timezone.now(),
        stream=streamed,
        request=request_record(request),
        callback_url=callback_url,
    )
    admission = Admission(generation, route, request, caller,
                          include_usage=isinstance(body, ChatBody) and bool(
                              body.stream_options and body.stream_options.include_usage),
                          residency=egress.residency_of(caller.client, generation.user))
    if dropped:
        admission.headers["X-Dihya-Dropped-Params"] = ",".join(dropped)
    try:
        with hops.one_writer(), transaction.atomic():
            for gate in gates.active():
                gate.admit(admission)
            generation.save(force_insert=True)
            if not queued:
                _started(admission)
    except BaseException as failed:
        # After the rollback: what a guard holds outside the database goes back, and what
        # gates record about a refusal is kept.
        for gate in gates.active():
            gate.rolled_back(admission)
        if isinstance(failed, Refusal):
            for gate in gates.active():
                gate.refused(admission, failed)
        raise
    return admission


def _started(admission: Admission) -> None:
    for gate in gates.active():
        gate.started(admission)


def resume(generation: Generation) -> Admission | None:
    """A queued job that a worker has just claimed, ready to `execute`; None when it cannot
    run (its route is gone, or a gate refuses it now): then it is already recorded as failed.
    """
    route = route_for(generation)
    admission = Admission(generation=generation,
                          route=route or RouteSpec(id=0, name=generation.route_name,
                                                   strategy="ordered", max_tokens=0, engines=()),
                          request=request_from_record(generation.request),
                          caller=Caller(client=generation.client, source=generation.source),
                          residency=egress.residency_of(generation.client, generation.user,
                                                        remembered=False))
    if route is None:
        settle.now(ending.failed(admission, [], "model_not_found",
                                 f"route {generation.route_name!r} no longer exists"))
        return None
    try:
        _started(admission)
    except Refusal as refusal:  # e.g. consent withdrawn while the job waited
        settle.now(ending.failed(admission, [], refusal.code, refusal.message))
        return None
    return admission


def abandon(generation_id: UUID, code: str, message: str, *, running_since: Any,
            deliveries: int) -> bool:
    """Fail a generation whose worker or web process is gone (the reaper's verb), telling the
    gates as `finish` would: the audit gate records the end; the quota gate charges the
    reservation of a web call whose answer may have gone out, and releases the others. Only
    if it is still the run the caller saw (running, same deliveries, started before
    `running_since`): a generation that finished meanwhile is left alone.

    What went out is lost with the process (its recorder's queue); the row written at
    admission is what is left. A stream that began beat once (`heartbeat`), so one without a
    beat sent nothing and is released; a plain call's answer leaves whole, after the engine,
    with nothing on the row to say whether it did: charged, its reservation (one request and
    the estimate) standing for what it served. A job or a batch line a worker lost served
    nobody."""
    now = timezone.now()
    with hops.one_writer(), transaction.atomic():
        if not Generation.objects.filter(
                Q(heartbeat__isnull=True) | Q(heartbeat__lt=running_since),
                pk=generation_id, status=Generation.Status.RUNNING, deliveries=deliveries,
                started__lt=running_since).update(status=Generation.Status.FAILED,
                                                  finished=now, error_code=code,
                                                  error_message=message):
            return False
        g = Generation.objects.select_related("client").get(pk=generation_id)
        route = catalog.route_spec(g.route_name) or RouteSpec(
            id=0, name=g.route_name, strategy="ordered", max_tokens=0, engines=())
        admission = Admission(generation=g, route=route,
                              request=request_from_record(g.request),
                              caller=Caller(client=g.client, source=g.source))
        # Only a live call answers someone as it runs; a worker's run (a job, a batch line)
        # that died served nobody: its work runs again, charged then.
        live = g.source not in (Generation.Source.JOB, Generation.Source.BATCH)
        began = live and g.deliveries == 0 and (not g.stream or g.heartbeat is not None)
        for gate in gates.active():
            # Usage(0, 0) on a failed call: served, counts unknown — the estimate is charged.
            gate.finish(admission, Usage(0, 0) if began else None)
    return True


def route_for(generation: Generation) -> RouteSpec | None:
    """The route a queued generation runs on, read when it runs, so an admin's edit applies.

    An admin's engine test runs on that engine alone, whatever routes it belongs to."""
    name = generation.route_name
    if generation.source == Generation.Source.ADMIN and generation.route_id is None:
        kind, _, engine_name = name.partition(":")  # catalog.single_engine_route's "engine:X"
        if kind == "engine":
            engine = Engine.objects.filter(name=engine_name).first()
            return catalog.single_engine_route(engine) if engine else None
    return catalog.route_spec(name)


def chat_request(body: ChatBody, route: RouteSpec) -> ChatRequest:
    """The engines' request: max_tokens as asked, within the route's ceiling (a 400 naming the
    param beyond it, never a silent cut), else the route's default for a request that sets
    none."""
    asked = body.requested_max_tokens
    if asked is not None and asked > route.max_tokens:
        param = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
        raise Refusal(400, "invalid_request",
                      f"{param} is {asked}; route {route.name!r} allows at most "
                      f"{route.max_tokens}.",
                      param=param)
    return records.request_of(body, asked or route.default_max_tokens or route.max_tokens)


def request_record(request: Request) -> dict[str, Any]:
    return records.record_of(request)


def request_from_record(record: dict[str, Any]) -> Request:
    return records.from_record(record)


# --- running ---------------------------------------------------------------------------------
async def execute(admission: Admission) -> Outcome:
    """Walk the route. Touches no database, so synchronous callers can run it on any loop."""
    request, user = admission.request, admission.generation.end_user
    residency = admission.residency
    # A batch line holds a ticket of its engine's batch share (fallbacks.slots).
    batch = admission.generation.source == Generation.Source.BATCH
    await egress.ready(admission.route)
    try:
        if isinstance(request, EmbeddingRequest):
            return await runner().embed(admission.route, request, user=user,
                                        residency=residency, batch=batch)
        return await runner().run(admission.route, request, user=user, residency=residency,
                                  batch=batch)
    except RunFailed as failed:
        return failed


def record(admission: Admission, outcome: Outcome) -> bool:
    """Write how `execute` went at once (the worker's way); raise the client's Refusal if no
    engine answered. Returns whether this run's end was written (False: it was overtaken)."""
    written = settle.now(ending.end_of(admission, outcome))
    if isinstance(outcome, RunFailed):
        raise refusal_for(outcome, admission.request)
    if isinstance(outcome, EmbedResult):
        embeddings.learn_dimension(admission, outcome.embeddings)
    return written


async def close(ended: settle.Ended) -> None:
    """An API call's end: handed to this process's recorder, with no hop and no statement on
    the request's path (DIHYA_RECORDER = "batched"), or written at once on a database thread
    ("inline"). Either way `settle` writes it. Under a synchronous caller that waits for us
    (Django's test client, a sync-only middleware) it is written at once too: that caller may
    hold a transaction whose rows the write must see, which the recorder's thread cannot."""
    if recorder.batched() and not hops.under_sync_caller():
        recorder.submit(ended)
    else:
        await hops.db(settle.now)(ended)


async def _run(admission: Admission) -> Outcome:
    """Execute and record; raise Refusal if no engine answered."""
    try:
        outcome = await execute(admission)
    except asyncio.CancelledError:
        await client_gone(admission)
        raise
    if isinstance(outcome, EmbedResult) and admission.route.embedding_dimension is None:
        # The route's first answer pins its dimension (a statement): written at once.
        await hops.db(record)(admission, outcome)
        return outcome
    await close(ending.end_of(admission, outcome))
    if isinstance(outcome, RunFailed):
        raise refusal_for(outcome, admission.request)
    return outcome


async def complete(admission: Admission) -> RunResult:
    """Run a non-streamed chat completion and record it; raise Refusal if no engine answered."""
    outcome = await _run(admission)
    assert isinstance(outcome, RunResult)  # _run raised otherwise
    return outcome


async def embed(admission: Admission) -> EmbedResult:
    """Run an embeddings call and record it; raise Refusal if no engine answered."""
    outcome = await _run(admission)
    assert isinstance(outcome, EmbedResult)  # _run raised otherwise
    return outcome


@dataclass(slots=True)
class Streaming:
    """A started stream: the engine is chosen, the deltas are still to come."""

    engine: str
    deltas: AsyncGenerator[Delta, None]


async def stream(admission: Admission) -> Streaming:
    """Fall back until an engine streams, then relay its deltas and record the end."""
    run = runner()
    assert isinstance(admission.request, ChatRequest)  # embeddings are never streamed
    await egress.ready(admission.route)
    try:
        started = await run.start_stream(admission.route, admission.request,
                                         user=admission.generation.end_user,
                                         residency=admission.residency)
    except asyncio.CancelledError:
        await client_gone(admission)
        raise
    except RunFailed as failed:
        await close(ending.failed(admission, failed.attempts, failed.code, str(failed)))
        raise refusal_for(failed, admission.request) from None
    admission.attempts = started.attempts  # what the answer's headers account for

    async def relay() -> AsyncGenerator[Delta, None]:
        parts: list[str] = []
        calls = records.ToolCallJoiner()
        usage: Usage | None = None
        finish_reason = "stop"
        error: ProviderError | None = None
        completed = sent = False
        beat_at = time.monotonic() + settings.DIHYA_STREAM_HEARTBEAT
        try:
            delta = started.first
            while True:
                parts.append(delta.text)
                calls.add(delta.tool_calls)
                usage = delta.usage or usage
                finish_reason = delta.finish_reason or finish_reason
                began = delta.output and not sent
                sent = sent or delta.output  # from here on, the call is paid for
                yield delta
                # Still streaming: the reaper must wait. The first beat, once the answer has
                # begun, also tells the reaper this call served something (`abandon`). Noted,
                # not awaited: many streams' beats are written together (heartbeats).
                if began or time.monotonic() >= beat_at:
                    await heartbeats.beat(admission.generation.pk)
                    beat_at = time.monotonic() + settings.DIHYA_STREAM_HEARTBEAT
                try:
                    delta = await anext(started.rest)
                except StopAsyncIteration:
                    completed = True
                    break
            if sent:  # its beat on its row before the client hears the end
                await heartbeats.written(admission.generation.pk)
        except ProviderError as exc:
            error = exc
            raise
        finally:
            await aclose_quietly(started.rest)  # the engine's stream and its slot, now
            served = served_so_far(admission, started, usage, parts, calls) if sent else None
            if completed:
                run.stream_ended(started, None)
                await close(ending.succeeded(
                    admission, started.attempts, "".join(parts), finish_reason,
                    usage or Usage(0, 0), started.engine.id, started.engine.name,
                    tool_calls=calls.record()))
            elif error is not None:
                run.stream_ended(started, error)
                await close(ending.failed(
                    admission, started.attempts, "engine_failed_mid_stream",
                    f"{started.engine.name} failed after the stream began: {error}",
                    served=served))
            else:  # the client went away: not the engine's fault
                await close(ending.failed(
                    admission, started.attempts, "client_disconnected",
                    "the client closed the connection before the end of the stream",
                    served=served))

    return Streaming(engine=started.engine.name, deltas=relay())


def served_so_far(admission: Admission, started: StreamRun, usage: Usage | None,
                  parts: list[str], calls: records.ToolCallJoiner) -> Served:
    """What a stream cut after its answer began has served: the engine's counts where it gave
    them, else the quota's estimate (characters / 4, rounded up) of the prompt and of the text
    and tool calls relayed — at least one token, since something went out."""
    relayed = sum(map(len, parts)) + sum(len(c["name"]) + len(c["arguments"])
                                         for c in calls.record())
    prompt = (usage.prompt_tokens if usage and usage.prompt_tokens
              else plans.estimate_tokens(admission.request.prompt_chars, 0))
    completion = (usage.completion_tokens if usage and usage.completion_tokens
                  else max(1, plans.estimate_tokens(relayed, 0)))
    return Served(Usage(prompt, completion), started.engine.id, started.engine.name)


async def client_gone(admission: Admission) -> None:
    """The client went away while engines were still being tried (its request is being
    cancelled): record that, so that the gates release what the call holds — its quota
    reservation, a half-open probe it took — now rather than when the reaper finds the row.
    Shielded: the cancellation that brought us here must not cut the recording short."""
    await asyncio.shield(close(ending.failed(
        admission, [], "client_disconnected",
        "the client closed the connection before any engine answered")))


def heartbeat(generation_id: UUID) -> None:
    """A long stream says it is alive, so that the reaper (which fails generations running
    past the deadline) leaves it alone. A relay's beats go through `heartbeats`, many in one
    UPDATE; this is one of them, written at once."""
    heartbeats.write([generation_id])


def refusal_for(failed: RunFailed, request: Request | None = None) -> Refusal:
    if failed.code == REGION_NOT_ALLOWED:
        return Refusal(403, REGION_NOT_ALLOWED, str(failed), type_="permission_error")
    if failed.code == "engine_rejected_request":
        return Refusal(400, "invalid_request", f"The engine rejected the request: {failed}")
    if failed.code == "unsupported_parameter" and request is not None:
        return capabilities.refusal(failed, request)
    headers = {}
    if failed.retry_at is not None:  # the breakers know when an engine may be back
        headers["Retry-After"] = str(max(1, math.ceil(failed.retry_at - time.time())))
    return Refusal(503, failed.code, str(failed), type_="service_unavailable", headers=headers)
