"""The relay's URL conf, its one view and its ASGI application (see bench/relay/__init__.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.relay.settings")

import httpx
from django.core.asgi import get_asgi_application
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import path
from ninja import NinjaAPI, Schema
from pydantic import ConfigDict


class Message(Schema):
    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class ChatRequest(Schema):
    """The OpenAI chat request, as far as a relay needs to know it; the rest passes through."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    stream: bool = False
    user: str | None = None


UPSTREAM = os.environ.get("BENCH_RELAY_UPSTREAM", "http://127.0.0.1:9100/ok/v1")
api = NinjaAPI(docs_url=None, openapi_url=None)
_client: httpx.AsyncClient | None = None


def client() -> httpx.AsyncClient:
    """One pooled client for the process, made in the server's event loop on first use. Room
    for every stream of the long-streams measure (400 at once): a floor must not queue."""
    global _client
    if _client is None:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
        _client = httpx.AsyncClient(base_url=UPSTREAM, limits=limits,
                                    timeout=30.0, trust_env=False)
    return _client


@api.post("/chat/completions")
async def chat_completions(request: HttpRequest, body: ChatRequest) -> HttpResponseBase:
    payload = body.model_dump_json(exclude_none=True).encode()
    headers = {"content-type": "application/json"}
    if not body.stream:
        answer = await client().post("/chat/completions", content=payload, headers=headers)
        return HttpResponse(answer.content, status=answer.status_code,
                            content_type=answer.headers.get("content-type", "application/json"))
    upstream = await client().send(
        client().build_request("POST", "/chat/completions", content=payload, headers=headers),
        stream=True)

    async def relay() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    return StreamingHttpResponse(relay(), status=upstream.status_code,
                                 content_type="text/event-stream")


urlpatterns = [path("v1/", api.urls)]
application = get_asgi_application()
