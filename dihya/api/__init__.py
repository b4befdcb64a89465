"""Dihya's HTTP API: OpenAI-compatible endpoints under /v1, the jobs API under /api/v1.

Why django-ninja (and not Django REST Framework): the request bodies are already pydantic
models (`dihya.generation.requests`, shared with the workers and the `generate` command), and ninja
validates with them as they are; its views may be `async def`, which a gateway that relays
streams needs (DRF's are synchronous: one thread per open stream); and the OpenAPI document
is generated from those same schemas, so it cannot drift from what is enforced.

Every error leaves in OpenAI's shape `{"error": {"message", "type", "param", "code"}}`: the
handlers below turn refusals, validation errors and malformed bodies into it. Nothing a client
sends may end in a 500; nor may a database or Redis restart (a clean 503 with Retry-After).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dihya.api import (
    batches,
    consents,
    embeddings,
    engines,
    files,
    jobs,
    messages,
    openai,
    people,
    quota,
    responses,
)
from dihya.api.dialects import anthropic_answer as anthropic
from dihya.generation.errors import Refusal
from dihya.observability.routes import route_of

log = logging.getLogger(__name__)

api = NinjaAPI(
    title="Dihya API",
    version="1",
    description="OpenAI-compatible chat completions and embeddings with fallbacks across "
    "engines, Anthropic's Messages API (`/v1/messages`), and a jobs "
    "API run by workers. Authenticate with `Authorization: Bearer <key>` or `x-api-key: <key>` "
    "(keys come from `python manage.py create_api_key CLIENT` or the admin). Errors are "
    '`{"error": {"message", "type", "param", "code"}}` with a stable `code`; on /v1/messages '
    '(and with an `anthropic-version` header) Anthropic\'s `{"type": "error", "error": '
    '{"type", "message", "code", "param"}}`.',
    urls_namespace="dihya-api",
    openapi_url="/api/v1/openapi.json",
    docs_url="/api/v1/docs",
)
api.add_router("/v1/", openai.router)
api.add_router("/v1/", embeddings.router)
api.add_router("/v1/", messages.router)
api.add_router("/v1/", responses.router)
api.add_router("/v1/", files.router)
api.add_router("/v1/", batches.router)
api.add_router("/api/v1/", jobs.router)
api.add_router("/api/v1/", engines.router)
api.add_router("/api/v1/", quota.router)
api.add_router("/api/v1/", consents.router)
api.add_router("/api/v1/", people.router)


#: 4xx answers a retry can fix: a timeout, a conflict, a rate limit. Any other 4xx tells the
#: client's SDK not to retry (`x-should-retry: false`, which the openai and anthropic SDKs
#: honour): the same request gets the same answer.
RETRYABLE = frozenset({408, 409, 429})


def refused(request: HttpRequest, exc: Refusal) -> HttpResponse:
    # Anthropic's clients (/v1/messages…, or any call with `anthropic-version`) read errors in
    # their own shape: the same refusal, status and stable code (dialects.anthropic).
    body = anthropic.error_body(exc) if anthropic.speaks_anthropic(request) else exc.body()
    headers = dict(exc.headers)
    if 400 <= exc.status < 500 and exc.status not in RETRYABLE:
        headers.setdefault("x-should-retry", "false")
    return JsonResponse(body, status=exc.status, headers=headers)


def param_of(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """`("body", "body", "messages", 0, "content")` → `"messages[0].content"`."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[2:] if parts[0] == "body" else parts[1:]
    # Union members appear in pydantic's locations as type names; they are no field's name.
    parts = [p for p in parts if not (isinstance(p, str) and ("[" in p or p in PYDANTIC_TAGS
                                                              or p[:1].isupper()))]
    # A discriminated union names its tag before the member's fields: `content[0].image_url`
    # then `image_url.url`; the tag is the field's own name in OpenAI's shapes.
    parts = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
    param = ""
    for part in parts:
        param += f"[{part}]" if isinstance(part, int) else (f".{part}" if param else str(part))
    return param or None


PYDANTIC_TAGS = {"str", "int", "float", "bool", "list", "dict", "function-after",
                 "function-before", "function-wrap"}


def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return refused(request, refusal_of(exc.errors))


def refusal_of(errors: list[dict[str, Any]]) -> Refusal:
    """The refusal for a body's validation errors (ninja's locations: `("body", "body", …)`),
    also what a batch line with the same body is answered (dihya.api.batch_lines)."""
    # The deepest error is the most specific: for `content: str | list[part]`, the bad part
    # rather than "not a string".
    first: dict[str, Any] = max(errors, key=lambda e: len(
        [p for p in e.get("loc", ()) if not (isinstance(p, str) and "[" in p)])) \
        if errors else {}
    param = param_of(first.get("loc", ()))
    message = str(first.get("msg", "Invalid request."))
    if param is None and first.get("type") in ("missing", "model_attributes_type", "dict_type"):
        message = "The request body must be a JSON object."
    if first.get("type") == "extra_forbidden":  # a field no schema here knows: never dropped
        return Refusal(400, "unsupported_parameter",
                       f"Unsupported parameter: {param!r} is not supported.", param=param)
    text = f"Invalid value for {param}: {message}" if param else message
    return Refusal(400, "invalid_request", text, param=param)


def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, AuthenticationError) or exc.status_code == 401:
        return refused(request, Refusal(401, "invalid_api_key", "Invalid or missing API key."))
    if exc.status_code == 400:  # ninja: the body is not JSON
        return refused(request, Refusal(400, "invalid_request",
                                        "The request body is not valid JSON."))
    return refused(request, Refusal(exc.status_code, "invalid_request", str(exc)))


def too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    """Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE (DIHYA_MAX_BODY_BYTES)
    from its Content-Length, before reading or parsing it."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return refused(request, Refusal(413, "request_too_large",
                                    f"The request body is larger than {limit} bytes."))


def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return refused(request, Refusal(404, "not_found", "Not found."))


RETRY_AFTER = "2"  # seconds: a restarting database or Redis is usually back within that


def database_down(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database went away mid-request (restart, failover, network): the call fails, the
    next one reconnects (CONN_HEALTH_CHECKS; dihya.generation.hops closes broken ones)."""
    log.warning("database unavailable in %s %s: %s", request.method, route_of(request), exc)
    return refused(request, Refusal(503, "database_unavailable", "The database is unavailable "
                                    "for a moment; retry shortly.", headers={
                                        "Retry-After": RETRY_AFTER}))


def redis_down(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Redis (task broker, shared cache) went away. The chat path does not need it (API keys
    fall back to the database: dihya.gateway.keys); queuing a job does."""
    log.warning("redis unavailable in %s %s: %s", request.method, route_of(request), exc)
    return refused(request, Refusal(503, "service_unavailable", "A backing service is "
                                    "unavailable for a moment; retry shortly.", headers={
                                        "Retry-After": RETRY_AFTER}))


def crashed(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled error in %s %s", request.method, route_of(request))  # no ids
    return refused(request, Refusal(500, "internal_error", "Internal error; it was logged.",
                                    type_="api_error"))


HANDLERS: list[tuple[type[Exception], Callable[[HttpRequest, Any], HttpResponse]]] = [
    (Refusal, refused), (ValidationError, invalid), (HttpError, http_error),
    (Http404, not_found), (RequestDataTooBig, too_big), (OperationalError, database_down),
    (InterfaceError, database_down), (RedisConnectionError, redis_down),
    (RedisTimeoutError, redis_down), (Exception, crashed)]
for exc_class, handler in HANDLERS:
    api.add_exception_handler(exc_class, handler)
