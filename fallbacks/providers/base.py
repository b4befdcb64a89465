"""The interface every provider implements, and the HTTP plumbing they share.

A provider is a strategy for one wire protocol. It turns a `ChatRequest` into a call to one
engine and the answer into a `Completion` (or a stream of `Delta`s), and turns every way the
call can go wrong into a `ProviderError`. It keeps no state between calls and never touches
the database.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Literal

import httpx

from fallbacks.errors import Failure, ProviderError
from fallbacks.providers.classify import (  # noqa: F401 - re-exported for providers
    classify_response,
    error_text,
    in_band_error,
    parse_duration,
    retry_after_seconds,
)
from fallbacks.spec import ChatRequest, Completion, Delta, EmbeddingRequest, Embeddings, EngineSpec


class Provider(ABC):
    name: ClassVar[str]
    label: ClassVar[str]
    #: Whether the provider cannot work without an API key (hosted APIs).
    key_required: ClassVar[bool] = False
    #: What an engine of this provider can do unless its row says otherwise.
    capabilities: ClassVar[frozenset[str]] = frozenset({"chat"})

    def __init__(self, engine: EngineSpec, client: httpx.AsyncClient) -> None:
        self.engine = engine
        self.client = client

    @abstractmethod
    async def complete(self, request: ChatRequest) -> Completion: ...

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[Delta]: ...

    async def embed(self, request: EmbeddingRequest) -> Embeddings:
        """One vector per input. A provider whose API has no embeddings leaves this: the
        runner never calls it, since its engines do not declare `embeddings`."""
        raise ProviderError(Failure.UNSUPPORTED, f"{self.label} serves no embeddings")

    @abstractmethod
    async def probe(self) -> None:
        """The cheapest call that proves the engine is up; raises ProviderError if not."""

    async def models(self) -> list[str] | None:
        """The models the server offers (the admin's "Test connection"), or None if its API
        cannot list them; raises ProviderError like `probe`."""
        await self.probe()
        return None

    async def get_json(self, path: str) -> Any:
        """GET and return the decoded JSON answer, with every failure classified."""
        with translate_errors():
            response = await self.client.get(self.url(path), headers=self.headers(),
                                             timeout=self.timeout())
        return json_answer(response)

    # --- shared plumbing ---------------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.engine.base_url.rstrip("/") + "/" + path.lstrip("/")

    def headers(self) -> dict[str, str]:
        if (self.key_required or self.engine.key_required) and not self.engine.api_key:
            raise ProviderError(Failure.NOT_CONFIGURED, "no API key configured")
        h = {"content-type": "application/json", "accept": "application/json"}
        if self.engine.api_key:
            h["authorization"] = f"Bearer {self.engine.api_key}"
        return h

    def timeout(self) -> httpx.Timeout:
        e = self.engine
        return httpx.Timeout(connect=e.connect_timeout, read=e.read_timeout,
                             write=e.read_timeout, pool=e.connect_timeout)

    async def post_json(self, path: str, body: dict[str, Any]) -> Any:
        """POST and return the decoded JSON answer, with every failure classified."""
        with translate_errors():
            response = await self.client.post(self.url(path), json=body, headers=self.headers(),
                                              timeout=self.timeout())
        return json_answer(response)

    def open_stream(self, method: str, path: str,
                    body: dict[str, Any] | None = None) -> OpenStream:
        """`async with self.open_stream(...) as response:` a streamed answer, its errors
        classified. A class, not an @asynccontextmanager: a client that goes away leaves the
        provider's stream to be finalised, and a generator-based manager finalised before the
        stream that holds it fails with "generator didn't stop after athrow()"."""
        with translate_errors():  # a base URL no request can go to is classified too
            request = self.client.build_request(method, self.url(path), json=body,
                                                headers=self.headers(), timeout=self.timeout())
        return OpenStream(self.client, request)


class OpenStream:
    """A streamed HTTP answer held open for one `async with`; closed on the way out whatever
    ends it (the last line, an error, a client gone). No generator: nothing to finalise."""

    def __init__(self, client: httpx.AsyncClient, request: httpx.Request) -> None:
        self.client = client
        self.request = request
        self.response: httpx.Response | None = None

    async def __aenter__(self) -> httpx.Response:
        with translate_errors():
            response = self.response = await self.client.send(self.request, stream=True)
            if response.status_code >= 400:
                try:
                    text = (await response.aread()).decode("utf-8", "replace")
                finally:
                    await response.aclose()
                raise classify_response(response.status_code, response.headers, text)
        return response

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: object) -> Literal[False]:
        if self.response is not None:
            if exc is None:
                with translate_errors():
                    await self.response.aclose()
            else:  # the error in hand says more than a failed close would
                with contextlib.suppress(Exception):
                    await self.response.aclose()
        return False


def json_object(data: Any, what: str = "answer") -> dict[str, Any]:
    """The answer as a JSON object, or BAD_RESPONSE: a list or a number is not an answer."""
    if not isinstance(data, dict):
        raise ProviderError(Failure.BAD_RESPONSE, f"{what} is not a JSON object")
    return data


class translate_errors:  # used as a context manager, reads as a phrase
    """Turn httpx's exceptions into classified ProviderErrors, also mid-stream."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> Literal[False]:
        if exc is None or isinstance(exc, ProviderError):
            return False
        if isinstance(exc, httpx.TimeoutException):
            raise ProviderError(Failure.TIMEOUT, type(exc).__name__) from exc
        if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
            # A base URL no request can go to: the engine is misconfigured, not down.
            raise ProviderError(Failure.NOT_CONFIGURED, f"bad base URL: {exc}") from exc
        if isinstance(exc, httpx.ConnectError | httpx.RemoteProtocolError | httpx.ReadError
                      | httpx.WriteError | httpx.NetworkError):
            raise ProviderError(Failure.CONNECT, type(exc).__name__ + ": " + str(exc)) from exc
        if isinstance(exc, httpx.HTTPError):
            raise ProviderError(Failure.BAD_RESPONSE, type(exc).__name__) from exc
        return False


def json_answer(response: httpx.Response) -> Any:
    """An engine's JSON answer, or its failure classified (an error status, or not JSON)."""
    if response.status_code >= 400:
        raise classify_response(response.status_code, response.headers, response.text)
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError(Failure.BAD_RESPONSE, "answer is not JSON") from exc
