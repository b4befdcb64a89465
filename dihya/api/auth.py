"""API keys: who is calling, and what they may use.

A key comes as `Authorization: Bearer <key>` (OpenAI's clients) or as `x-api-key: <key>`
(Anthropic's), on every endpoint; the OpenAPI document names the bearer scheme. `BearerKey`
only reads the headers (no database, so it runs on the event loop without a thread hop). The
key itself is checked by `caller()`, which views run in the same synchronous hop as the rest
of their database work.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from dihya.gateway import keys
from dihya.gateway.models import Generation
from dihya.generation.errors import Refusal
from dihya.generation.pipeline import Caller


def unauthorized(message: str) -> Refusal:
    return Refusal(401, "invalid_api_key", message,
                   headers={"WWW-Authenticate": 'Bearer realm="dihya"'})


class BearerKey(HttpBearer):
    is_async = True  # ninja awaits it instead of sending it to a thread

    async def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header and (api_key := request.headers.get("x-api-key", "").strip()):
            return api_key
        if not header:
            raise unauthorized("No API key given: send `Authorization: Bearer <key>` or "
                               "`x-api-key: <key>`.")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Malformed Authorization header: expected `Bearer <key>`.")
        return token.strip()

    def authenticate(self, request: HttpRequest, token: str) -> Any:  # pragma: no cover
        return token


SCOPE_OF_SOURCE: dict[str, str] = {Generation.Source.CHAT: "chat", Generation.Source.JOB: "jobs",
                                   Generation.Source.BATCH: "jobs"}


def caller(token: str, source: str, *, scope: str | None = None) -> Caller:
    """The Caller for a raw key (synchronous: may query). Raises a 401 or 403 Refusal.

    The scope needed is the source's (chat or jobs) unless `scope` says otherwise; reading
    the engines' state needs none beyond a valid key (scope "")."""
    verified = keys.verify(token)
    if verified is None:
        raise unauthorized("Invalid API key: unknown, revoked or expired.")
    needed = SCOPE_OF_SOURCE.get(source, "") if scope is None else scope
    if needed and needed not in verified.scopes:
        raise Refusal(403, "scope_not_allowed",
                      f"This API key has no {needed!r} scope.")
    return Caller(client=verified.client, allowed_routes=verified.routes, source=source)
