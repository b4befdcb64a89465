"""The API's own lane through Django: /v1/… and /api/v1/… without the console's middleware.

The console needs sessions, authentication, CSRF, messages, locale, CSP, django-axes and the
privacy rate limits; an API call authenticated by a bearer key uses none of them. Under ASGI
each of those middlewares costs thread hops on every request, and WhiteNoise's (sync only) puts
the whole chain in a thread of its own: measured, about 4 ms of CPU per API call, a third of
it (docs/benchmarks.md). API paths therefore go to a second Django handler built with
DIHYA_API_MIDDLEWARE (SecurityMiddleware by default: its headers still apply). The API's
documentation pages (HTML, under CSP) stay in the console's lane.

Same URLconf, same views, same settings otherwise: this chooses middleware, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase
from django.middleware.security import SecurityMiddleware

from dihya.lib import fences

MIDDLEWARE_LIST = fences.fence(
    "django", "==5.2.*", where="dihya.lanes.ApiHandler",
    borrows="BaseHandler.load_middleware reading settings.MIDDLEWARE (swapped while it runs)",
    until="Django's handler takes a middleware list of its own")
ASYNC_MIDDLEWARE_CALL = fences.fence(
    "django", "==5.2.*", where="dihya.lanes.Security",
    borrows="MiddlewareMixin.__acall__ (overridden to call process_request/response inline)",
    until="Django's SecurityMiddleware is async-capable without thread hops")
_sync_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dihya-api-sync")
API_PREFIXES = ("/v1/", "/api/v1/")
CONSOLE_PAGES = ("/api/v1/docs", "/api/v1/openapi.json")


METRICS = "/metrics"  # Prometheus' scrape (dihya.observability.views): no console login


def is_api(path: str) -> bool:
    return ((path.startswith(API_PREFIXES) and not path.startswith(CONSOLE_PAGES))
            or path == METRICS)


class ApiHandler(ASGIHandler):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Django gives each request a thread of its own for its thread-sensitive bits (request
        # signals, SecurityMiddleware): a thread started and stopped per API call. They are
        # short and touch no database here (dihya.generation.hops does that work), so one
        # thread serves them all.
        async with ThreadSensitiveContext(executor=_sync_thread):
            await super().__call__(scope, receive, send)

    def load_middleware(self, is_async: bool = False) -> None:
        if not MIDDLEWARE_LIST.holds():  # the stock path: the console's whole chain
            super().load_middleware(is_async)
            return
        with middleware_setting(settings.DIHYA_API_MIDDLEWARE):
            super().load_middleware(is_async)


@contextmanager
def middleware_setting(paths: list[str]) -> Iterator[None]:
    """settings.MIDDLEWARE as `paths` while Django builds one handler's middleware chain.

    Django's `BaseHandler.load_middleware` reads settings.MIDDLEWARE, and takes no list of its
    own. It runs once per handler, when the ASGI application is built at start-up, before any
    request: the setting is swapped on the settings object for that call only and put back.
    tests/test_lanes.py checks that the API handler's chain is `paths` and the console's is
    settings.MIDDLEWARE, so a Django upgrade that reads it elsewhere fails there.
    """
    saved = settings.MIDDLEWARE
    settings.MIDDLEWARE = list(paths)
    try:
        yield
    finally:
        settings.MIDDLEWARE = saved


class Lanes:
    """Send API calls to the API's handler and everything else to the console's."""

    def __init__(self, api: Any, console: Any) -> None:
        self.api = api
        self.console = console

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and is_api(scope.get("path", "")):
            await self.api(scope, receive, send)
        else:
            await self.console(scope, receive, send)


class Security(SecurityMiddleware):
    """Django's SecurityMiddleware, called from the event loop.

    Django runs a sync-and-async middleware of the old style (`MiddlewareMixin`) by handing
    `process_request` and `process_response` to a thread each: two thread hops per API call
    for a few header checks and assignments that neither block nor touch the database. This
    calls Django's own two methods directly instead: the same redirects and headers (HSTS,
    nosniff, referrer and cross-origin opener policies), without the hops."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if not ASYNC_MIDDLEWARE_CALL.holds():  # the stock path: Django's, with its hops
            return await super().__acall__(request)
        response = self.process_request(request)
        if response is None:
            response = await self.get_response(request)  # type: ignore[misc]
        return self.process_response(request, response)
