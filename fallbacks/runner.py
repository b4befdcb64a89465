"""Walk a route: attempts per engine, in order, until one answers.

The runner owns the fallback decision and nothing else. It knows no client, quota or
consent; it never touches the database. It asks a `Health` object whether an engine is worth
trying and tells it how each attempt went, so that failures are remembered across requests
(the circuit breaker, `fallbacks.breaker`, lives behind that seam). What to do after a failure
— next engine, retry, stop — is the route's `RetryPolicy` (`fallbacks.policy`), bounded by an
attempt budget and a total deadline so that retries x fallbacks never silently multiply.
The order in which engines are tried is the route's strategy's (`fallbacks.strategies`),
asked once per request from memory; the successful attempt's detail says what it chose and
why. It returns what happened as `AttemptRecord`s; the caller stores them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import httpx

from fallbacks import http, latency, masking, slots, strategies, structured
from fallbacks.egress import Egress, Leg
from fallbacks.errors import Failure, ProviderError
from fallbacks.masking import MASKING_FAILED, Masking, MaskingFailed
from fallbacks.policy import NOT_THE_ENGINE, Action
from fallbacks.providers import registry
from fallbacks.residency import ANYWHERE, REGION_NOT_ALLOWED, Residency
from fallbacks.spec import (
    ChatRequest,
    Completion,
    Delta,
    EmbeddingRequest,
    Embeddings,
    EngineSpec,
    Request,
    RouteSpec,
)

OK = "ok"
NO_SLOT = "no_free_slot"
BATCH_SHARE_FULL = "batch_share_full"  # a batch line found the engine at its batch share
UNSUPPORTED = Failure.UNSUPPORTED.value  # the engine lacks a capability the request needs
T = TypeVar("T")


@dataclass(slots=True)
class AttemptRecord:
    engine_id: int
    engine: str
    position: int
    outcome: str
    latency_ms: float
    detail: str = ""
    status_code: int | None = None
    # Wall clock (time.time()) when the attempt ended: for a stream, its first token. Traces
    # and the time-to-first-token metric place the attempt with it.
    ended: float = field(default_factory=time.time)
    #: Entities masked before the call, by type (counts only: the values never leave).
    masked: dict[str, int] | None = None


class Health(Protocol):
    """What the runner asks before an attempt and tells after it. Must not block: the runner
    calls it from the event loop on every attempt."""

    def skip_reason(self, engine: EngineSpec) -> str | None:
        """An outcome (e.g. 'circuit_open') if the engine must be skipped at no cost."""

    def available(self, engine: EngineSpec) -> bool:
        """Whether skip_reason would let it through, with no side effect (for strategies)."""

    def record(self, engine: EngineSpec, error: ProviderError | None) -> None: ...


class Forgetful:
    """Health that remembers nothing: every engine is always tried."""

    def skip_reason(self, engine: EngineSpec) -> str | None:
        return None

    def available(self, engine: EngineSpec) -> bool:
        return True

    def record(self, engine: EngineSpec, error: ProviderError | None) -> None:
        return None


class RunFailed(Exception):
    """No engine answered. `code` is what the client is told; `attempts` says why;
    `retry_at` (wall clock) is when the earliest engine may be tried again, when the
    breakers know it (the client's Retry-After)."""

    def __init__(self, code: str, message: str, attempts: list[AttemptRecord],
                 error: ProviderError | None = None, retry_at: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.attempts = attempts
        self.error = error
        self.retry_at = retry_at


@dataclass(slots=True)
class RunResult:
    completion: Completion
    engine: EngineSpec
    attempts: list[AttemptRecord]


@dataclass(slots=True)
class EmbedResult:
    embeddings: Embeddings
    engine: EngineSpec
    attempts: list[AttemptRecord]


@dataclass(slots=True)
class StreamRun:
    """A stream that has produced its first delta; fallback is over from here on."""

    engine: EngineSpec
    attempts: list[AttemptRecord]
    first: Delta
    rest: AsyncIterator[Delta]
    started: float = field(default_factory=time.monotonic)


def provider_for(engine: EngineSpec, client: httpx.AsyncClient | None = None):
    return registry.get(engine.provider)(engine, client or http.client())


class Runner:
    def __init__(self, health: Health | None = None, deadline: float = 120.0,
                 masking: Masking | None = None) -> None:
        self.health = health or Forgetful()
        self.deadline = deadline
        # The detector of personal data (injected: this app knows no library for it). None:
        # an engine that masks cannot be called (fail closed).
        self.masking = masking

    async def run(self, route: RouteSpec, request: ChatRequest, user: str = "",
                  residency: Residency = ANYWHERE, *, batch: bool = False) -> RunResult:
        async def call(engine: EngineSpec, timeout: float, slot: slots.Slot,
                       leg: Leg) -> Completion:
            try:
                async with asyncio.timeout(min(engine.total_timeout, timeout)):
                    completion = await provider_for(engine).complete(leg.request)
                if leg.vault is not None:
                    completion = masking.restore(completion, leg.vault, request)
                return await structured.check(request, completion)
            finally:
                await slot.release()

        engine, completion, attempts = await self._walk(route, call, self.plan(route, request,
                                                                               user=user),
                                                        request, residency, batch=batch)
        self.health.record(engine, None)
        if completion.usage.completion_tokens:
            latency.observe(engine.id, latency.PER_TOKEN,
                            attempts[-1].latency_ms / completion.usage.completion_tokens)
        return RunResult(completion, engine, attempts)

    async def start_stream(self, route: RouteSpec, request: ChatRequest,
                           user: str = "", residency: Residency = ANYWHERE) -> StreamRun:
        """Fall back until an engine yields its first delta, then hand the stream over."""
        first_token = route.policy.first_token_timeout

        async def call(engine: EngineSpec, timeout: float, slot: slots.Slot,
                       leg: Leg) -> tuple[Delta, AsyncIterator[Delta]]:
            assert isinstance(leg.request, ChatRequest)
            stream = provider_for(engine).stream(leg.request)
            if leg.vault is not None:
                stream = masking.restoring(stream, leg.vault, request)
            limit = first_token or (engine.read_timeout + engine.connect_timeout)
            try:
                async with asyncio.timeout(min(limit, timeout)):
                    first = await anext(stream)
            except BaseException:
                await aclose_quietly(stream)
                await slot.release()
                raise
            return first, holding(stream, slot)

        # The attempt is recorded as a success now; a mid-stream death rewrites it.
        engine, (first, rest), attempts = await self._walk(
            route, call, self.plan(route, request, stream=True, user=user), request, residency)
        latency.observe(engine.id, latency.FIRST_TOKEN, attempts[-1].latency_ms)
        return StreamRun(engine, attempts, first, rest)

    async def embed(self, route: RouteSpec, request: EmbeddingRequest,
                    user: str = "", residency: Residency = ANYWHERE, *,
                    batch: bool = False) -> EmbedResult:
        """Fall back among the route's engines that embed with the route's model, and accept
        only vectors of the route's length: vectors of two models (or two lengths) in one
        index are silently wrong search results, so a mismatch is a failed attempt."""
        want = request.dimensions or route.embedding_dimension
        model = embedding_model(route)

        async def call(engine: EngineSpec, timeout: float, slot: slots.Slot,
                       leg: Leg) -> Embeddings:
            assert isinstance(leg.request, EmbeddingRequest)
            try:
                async with asyncio.timeout(min(engine.total_timeout, timeout)):
                    answer = await provider_for(engine).embed(leg.request)
            finally:
                await slot.release()
            if len(answer.vectors) != len(request.inputs):
                raise ProviderError(Failure.BAD_RESPONSE,
                                    f"{len(answer.vectors)} vectors for {len(request.inputs)} "
                                    "inputs")
            if request.dimensions and any(len(v) != want for v in answer.vectors):
                # It ignores `dimensions` (llama.cpp does): the engine is fine, the request not
                # for it — next engine, nothing told to its breaker.
                raise ProviderError(Failure.UNSUPPORTED,
                                    f"ignores dimensions: answered vectors of "
                                    f"{answer.dimension} dimensions, not {want}")
            if want and any(len(v) != want for v in answer.vectors):
                raise ProviderError(Failure.BAD_RESPONSE,
                                    f"answered vectors of {answer.dimension} dimensions; the "
                                    f"route's are {want}")
            return answer

        engine, answer, attempts = await self._walk(
            route, call, self.plan(route, request, user=user), request, residency,
            model=model, batch=batch)
        self.health.record(engine, None)
        return EmbedResult(answer, engine, attempts)

    def stream_ended(self, run: StreamRun, error: ProviderError | None) -> None:
        """Tell health how the stream ended, and mark the attempt if it died mid-way."""
        self.health.record(run.engine, error)
        if error is not None:
            attempt = run.attempts[-1]
            attempt.outcome = error.failure.value
            attempt.detail = ("mid-stream: " + error.detail)[:500]
            attempt.status_code = error.status

    def plan(self, route: RouteSpec, request: Request, *, stream: bool = False,
             user: str = "") -> strategies.Plan:
        """The order this request tries the engines in: the route's strategy decides, from
        memory only (breakers, requests in flight, latency averages)."""
        return strategies.plan(route, request, stream=stream, user=user,
                               available=self.health.available, in_flight=slots.in_flight,
                               latency=latency.board().average)

    async def _walk(self, route: RouteSpec,
                    call: Callable[[EngineSpec, float, slots.Slot, Leg], Awaitable[T]],
                    plan: strategies.Plan, request: Request,
                    residency: Residency = ANYWHERE, model: str | None = None,
                    batch: bool = False) -> tuple[EngineSpec, T, list[AttemptRecord]]:
        """`batch`: a batch line, which skips an engine at its batch share
        (`Engine.batch_share`) and, if that left it no engine, fails `batch_share_full`: not
        the line's failure, its caller runs it again later."""
        policy = route.policy
        needs = request.needs
        attempts: list[AttemptRecord] = []
        egress = Egress(request, self.masking)
        ends = time.monotonic() + policy.deadline_for(self.deadline)
        last: ProviderError | None = None
        calls = 0
        for position, engine in enumerate(plan.engines):
            if engine.id in plan.skipped:  # e.g. context_too_long: before any call
                attempts.append(AttemptRecord(engine.id, engine.name, position,
                                              plan.skipped[engine.id], 0.0))
                continue
            if refused := residency.refuses(engine):
                # Before anything leaves, at no cost, breaker untold: the engine is fine.
                attempts.append(AttemptRecord(engine.id, engine.name, position,
                                              REGION_NOT_ALLOWED, 0.0, refused))
                continue
            if self._skip(engine, position, attempts, needs, model) is not None:
                continue
            try:
                leg = await egress.leg(engine)
            except MaskingFailed as failed:  # fail closed: this engine is not called
                attempts.append(AttemptRecord(engine.id, engine.name, position,
                                              MASKING_FAILED, 0.0, str(failed)))
                continue
            retries = 0
            while True:
                if calls >= policy.max_attempts:
                    raise RunFailed("attempt_budget_exhausted",
                                    summary(route, attempts, f"{calls} attempts made"),
                                    attempts, last)
                if time.monotonic() >= ends:
                    raise RunFailed("deadline_exceeded", summary(route, attempts, "deadline"),
                                    attempts, last)
                slot = await slots.acquire(engine, ends if policy.when_full == "wait" else None,
                                           batch=batch)
                if slot is slots.SHARE_FULL:
                    attempts.append(AttemptRecord(engine.id, engine.name, position,
                                                  BATCH_SHARE_FULL, 0.0,
                                                  f"{engine.batch_share} batch lines in flight"))
                    break
                if slot is None:
                    attempts.append(AttemptRecord(engine.id, engine.name, position, NO_SLOT, 0.0))
                    break
                calls += 1
                started = time.monotonic()
                try:
                    value = await call(engine, ends - started, slot, leg)
                except (ProviderError, TimeoutError, StopAsyncIteration) as exc:
                    last = as_provider_error(exc)
                    self._failed(engine, position, started, last, attempts)
                    action = policy.action(last.failure, retries)
                    if action is Action.STOP:
                        raise RunFailed("engine_rejected_request",
                                        last.detail or str(last.failure), attempts, last) from None
                    if action is Action.RETRY:
                        delay = policy.backoff(retries)
                        retries += 1
                        if time.monotonic() + delay < ends:
                            await asyncio.sleep(delay)
                            continue
                    break
                attempts.append(AttemptRecord(
                    engine.id, engine.name, position, OK, ms(started),
                    f"{plan.strategy}: {plan.why}"[:500],
                    masked=leg.vault.counts if leg.vault is not None else None))
                return engine, value, attempts
        if any(a.outcome == BATCH_SHARE_FULL for a in attempts):
            raise RunFailed(BATCH_SHARE_FULL, summary(route, attempts), attempts, last)
        if attempts and all(a.outcome == UNSUPPORTED for a in attempts):
            raise RunFailed("unsupported_parameter", summary(route, attempts), attempts, last)
        if any(a.outcome == REGION_NOT_ALLOWED for a in attempts):
            raise RunFailed(REGION_NOT_ALLOWED,
                            f"no engine of route {route.name!r} that the residency policy "
                            f"({residency.describe()}) allows could answer: "
                            + ", ".join(f"{a.engine}: {a.outcome}" for a in attempts),
                            attempts, last)
        raise RunFailed("all_engines_failed", summary(route, attempts), attempts, last,
                        retry_at=self._back_at(plan.engines, attempts))

    def _back_at(self, engines: tuple[EngineSpec, ...] | list[EngineSpec],
                 attempts: list[AttemptRecord]) -> float | None:
        """When the earliest engine may be tried again, if every engine the request could use
        is behind an open breaker that knows (a failure just now may have opened it). None
        when one is not, or health cannot tell (no `back_at`): a retry may work at once."""
        back_at = getattr(self.health, "back_at", None)
        usable = {a.engine_id for a in attempts
                  if a.outcome not in (UNSUPPORTED, REGION_NOT_ALLOWED)}
        if back_at is None or not usable:
            return None
        times = [back_at(e) for e in engines if e.id in usable]
        if any(t is None for t in times):
            return None
        return min(t for t in times if t is not None)

    def _skip(self, engine: EngineSpec, position: int, attempts: list[AttemptRecord],
              needs: frozenset[str] = frozenset(), model: str | None = None) -> str | None:
        if missing := needs - engine.capabilities:
            # At no cost and without a word to health: the engine is fine, the request not for it.
            attempts.append(AttemptRecord(engine.id, engine.name, position, UNSUPPORTED, 0.0,
                                          "lacks " + ", ".join(sorted(missing))))
            return UNSUPPORTED
        if model is not None and engine.model != model:
            attempts.append(AttemptRecord(engine.id, engine.name, position, UNSUPPORTED, 0.0,
                                          f"embeds with {engine.model!r}; the route's vectors "
                                          f"are {model!r}'s"))
            return UNSUPPORTED
        reason = self.health.skip_reason(engine)
        if reason is not None:
            attempts.append(AttemptRecord(engine.id, engine.name, position, reason, 0.0))
        return reason

    def _failed(self, engine: EngineSpec, position: int, started: float, error: ProviderError,
                attempts: list[AttemptRecord]) -> None:
        attempts.append(AttemptRecord(engine.id, engine.name, position, error.failure.value,
                                      ms(started), error.detail, error.status))
        if error.failure not in NOT_THE_ENGINE:
            self.health.record(engine, error)


def embedding_model(route: RouteSpec) -> str | None:
    """The model a route's embeddings come from: its first embedding engine's, in the route's
    order (not the strategy's, which changes per request). Its other engines must name the
    same model to serve as its fallbacks."""
    return next((e.model for e in route.engines if "embeddings" in e.capabilities), None)


class holding:
    """The rest of a stream, keeping the engine's slot (its lease renewed) until it ends.

    A class rather than an async generator: `aclose` closes the engine's stream and frees the
    slot even when nobody iterated it (a client gone after the first delta), and there is no
    generator for the garbage collector to finalise in the wrong order."""

    def __init__(self, stream: AsyncIterator[Delta], slot: slots.Slot) -> None:
        self.stream = stream
        self.slot = slot
        self.closed = False
        self.leased = slot is not slots.NOOP  # an engine without a cap: nothing to renew

    def __aiter__(self) -> holding:
        return self

    async def __anext__(self) -> Delta:
        if self.closed:
            raise StopAsyncIteration
        try:
            delta = await anext(self.stream)
        except BaseException:
            await self.aclose()
            raise
        if self.leased:
            await self.slot.keep()
        return delta

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await aclose_quietly(self.stream)
        finally:
            await self.slot.release()


def as_provider_error(exc: BaseException) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProviderError(Failure.TIMEOUT, "no answer in time")
    return ProviderError(Failure.BAD_RESPONSE, "stream ended before any token")


async def aclose_quietly(stream: AsyncIterator[Delta]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):  # a dying stream may fail to close; it is gone
            await aclose()


def ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)


def summary(route: RouteSpec, attempts: list[AttemptRecord], stopped: str = "") -> str:
    if not attempts:
        return f"route {route.name!r} has no enabled engine"
    tried = ", ".join(f"{a.engine}: {a.outcome}" for a in attempts)
    if stopped:
        return f"route {route.name!r} gave up ({stopped}) after: {tried}"
    return f"every engine of route {route.name!r} failed ({tried})"
