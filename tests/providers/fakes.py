"""Fakes at our own boundary: an `httpx.AsyncClient` over a MockTransport that records calls.

Providers take their client in the constructor, so every test here runs the real provider
code against documented wire bodies (fixtures/) without an engine. Only the connect-refused
test opens a socket, to a port nothing listens on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fallbacks.errors import ProviderError
from fallbacks.providers import registry
from fallbacks.providers.base import Provider
from fallbacks.spec import ChatRequest, Delta, EngineSpec, Message

FIXTURES = Path(__file__).parent / "fixtures"

BASE_URLS = {
    "openai": "http://engine.test/v1",
    "ollama": "http://engine.test",
    "mistral": "https://api.mistral.test",
}

REQUEST = ChatRequest(messages=(Message("system", "Be brief."), Message("user", "Say hello")),
                      max_tokens=32)


def fixture(name: str) -> str:
    """A fixture body as sent on the wire, without its leading `#` source lines."""
    lines = (FIXTURES / name).read_text().splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def engine(provider: str, **overrides: Any) -> EngineSpec:
    values: dict[str, Any] = {
        "id": 1, "name": f"{provider}-engine", "provider": provider,
        "base_url": BASE_URLS[provider], "model": "test-model",
        "api_key": "sk-test" if provider == "mistral" else "",
        "connect_timeout": 1.0, "read_timeout": 2.0,
    }
    values.update(overrides)
    return EngineSpec(**values)


Reply = httpx.Response | Callable[[httpx.Request], httpx.Response] | BaseException


@dataclass
class Fake:
    """A scripted engine: answers with `reply` and keeps every request it was sent."""

    reply: Reply
    requests: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.reply, BaseException):
            raise self.reply
        if callable(self.reply):
            return self.reply(request)
        return self.reply

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.requests[-1].content)

    def provider(self, name: str, **overrides: Any) -> Provider:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return registry.get(name)(engine(name, **overrides), client)


def answer(status: int, body: str = "", content_type: str = "application/json",
           headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=body.encode(),
                          headers={"content-type": content_type, **(headers or {})})


def streamed(parts: Iterable[bytes], *, then: BaseException | None = None,
             content_type: str = "text/event-stream") -> httpx.Response:
    """A 200 whose body arrives in pieces, optionally dying with `then` after them."""

    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part
        if then is not None:
            raise then

    return httpx.Response(200, content=body(), headers={"content-type": content_type})


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _collect(stream: AsyncIterator[Delta]) -> list[Delta]:
    return [delta async for delta in stream]


def collect(provider: Provider, request: ChatRequest = REQUEST) -> list[Delta]:
    return run(_collect(provider.stream(request)))


def complete(provider: Provider, request: ChatRequest = REQUEST) -> Any:
    return run(provider.complete(request))


def failure_of(call: Callable[[], Any]) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        call()
    return info.value
