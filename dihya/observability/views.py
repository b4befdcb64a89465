"""GET /metrics, and the middleware that puts X-Dihya-Overhead-Ms on every API answer.

/metrics is served in the API lane (dihya.lanes), outside the console's middleware and
login: Prometheus authenticates with `Authorization: Bearer $DIHYA_METRICS_TOKEN`; without a
token configured nobody is answered, unless DIHYA_METRICS_ALLOW_LOOPBACK lets loopback callers
in (a reverse proxy on the same host is loopback too: that is why it must be asked for).
The page adds up every process's samples (prometheus_client's multiprocess collector over
settings.DIHYA_METRICS_DIR) and the states read from the database (`state.StateCollector`),
on a database thread of the process (a thread of asgiref's pool), never on the API lane's
one shared sync thread.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from dihya.observability import metrics as counters
from dihya.observability import timing
from dihya.observability.state import StateCollector

LOOPBACK = ("127.0.0.1", "::1")
METRICS_PATH = "/metrics"


async def metrics(request: HttpRequest) -> HttpResponse:
    refusal = refused(request)
    if refusal is not None:
        return refusal
    body = await sync_to_async(exposition, thread_sensitive=False)()
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def refused(request: HttpRequest) -> HttpResponse | None:
    token = settings.DIHYA_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        return error(401, "invalid_metrics_token",
                     "GET /metrics wants `Authorization: Bearer <DIHYA_METRICS_TOKEN>`.",
                     headers={"WWW-Authenticate": "Bearer"})
    if settings.DIHYA_METRICS_ALLOW_LOOPBACK and request.META.get("REMOTE_ADDR") in LOOPBACK:
        return None
    return error(403, "metrics_token_required",
                 "Set DIHYA_METRICS_TOKEN to scrape /metrics (or DIHYA_METRICS_ALLOW_LOOPBACK="
                 "true to let loopback callers in, on a host with no proxy in front).")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None,
          ) -> JsonResponse:
    """The API's error shape (dihya.generation.errors), without importing the pipeline."""
    kind = "authentication_error" if status == 401 else "permission_error"
    return JsonResponse({"error": {"message": message, "type": kind, "param": None,
                                   "code": code}}, status=status, headers=headers)


def exposition() -> bytes:
    counters.flush()  # this process's queued samples; the others flush on their own
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=settings.DIHYA_METRICS_DIR)
    registry.register(StateCollector())
    return generate_latest(registry)


class Overhead:
    """Time each API call; send its overhead (engine time excluded) as X-Dihya-Overhead-Ms."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        call = timing.Call()
        token = timing.current.set(call)
        try:
            response = await self.get_response(request)
        finally:
            timing.current.reset(token)
        spent = call.overhead()
        response["X-Dihya-Overhead-Ms"] = f"{spent * 1000:.2f}"
        if call.trace_id:
            response["X-Dihya-Trace"] = call.trace_id
        if request.path != METRICS_PATH:
            counters.overhead(spent)
        return response
