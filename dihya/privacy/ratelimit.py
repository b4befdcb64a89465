"""Rate limits on people's privacy actions: grant, withdraw, export, erase.

Each is cheap to ask for and costly to serve (an export reads everything about a person; each
grant or withdrawal writes a consent record and an audit event), so a signed-in person gets
DIHYA_PRIVACY_RATE of each per hour. A middleware rather than decorators keeps the privacy
views about privacy; it acts only on the URL names below and only for signed-in people and
consent links' sessions (the
views send strangers to the sign-in page, which django-axes guards).

Counters live in the cache: shared by every process with Redis; per process with the embedded
local-memory cache, which still bounds each process. A fixed window is enough here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from dihya.lib.ratelimit import hit

WINDOW = 3600
LIMITED = frozenset({"privacy:grant", "privacy:withdraw", "privacy:export", "privacy:erase"})


class PrivacyRateLimit:
    # Both modes, so that under ASGI Django need not run every request's middleware chain in
    # a thread of its own (a sync-only middleware costs that hop on every API call).
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)  # __call__ then hands back get_response's coroutine

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], args: Any,
                     kwargs: Any) -> HttpResponse | None:
        match = request.resolver_match
        if match is None or match.view_name not in LIMITED:
            return None
        user = getattr(request, "user", None)
        who = user.pk if user is not None and user.is_authenticated else None
        if who is None and hasattr(request, "session"):
            who = request.session.get("dihya_person")  # a consent link's session
        if who is None:
            return None
        wait = hit(f"{match.view_name}:{who}", settings.DIHYA_PRIVACY_RATE)
        if not wait:
            return None
        response = HttpResponse(_("Too many requests. Please try again later."), status=429,
                                content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(wait)
        return response
