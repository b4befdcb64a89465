"""The engine form's "Test connection": reach an engine as typed, before it is saved.

One call the provider's API answers cheaply (its model list where it has one, else its
probe), bounded by the engine's own connect and read timeouts, and an answer an admin can act
on: what went wrong (`cause`) and what to change (`fix`), e.g. "set an API key or API key
variable", "nothing listens at 127.0.0.1:8081". The URL is screened first by the outbound
module's parser (http or https, a host, a real port, no credentials in it); engine URLs are
private on purpose often, so the address itself is not refused. Never stores anything, never
logs the key.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dihya.lib import outbound
from fallbacks.errors import Failure, ProviderError
from fallbacks.runner import provider_for
from fallbacks.spec import EngineSpec


@dataclass(frozen=True)
class Check:
    ok: bool
    cause: str = ""
    fix: str = ""
    models: list[str] | None = None  # None: the API lists none (or it could not be reached)
    model_listed: bool | None = None  # whether the engine's model is among them
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "cause": self.cause, "fix": self.fix, "models": self.models,
                "model_listed": self.model_listed, "seconds": round(self.seconds, 3),
                "notes": self.notes}


async def check(engine: EngineSpec) -> Check:
    try:
        _, host, port = outbound.parse(engine.base_url)
    except outbound.UnsafeURL as exc:
        return Check(False, f"The base URL cannot be called: {exc}.",
                     "Enter the server's address with http:// or https://, e.g. "
                     "http://127.0.0.1:8081/v1.")
    where = f"{host}:{port}"
    limit = engine.connect_timeout + engine.read_timeout
    started = asyncio.get_running_loop().time()
    try:
        async with asyncio.timeout(limit):
            models = await provider_for(engine).models()
    except TimeoutError:
        return Check(False, f"No answer from {where} within {limit:g} seconds.",
                     "Check that the server is up, or raise the connect and read timeouts "
                     "(seconds).")
    except ProviderError as exc:
        cause, fix = explain(exc, engine, where)
        return Check(False, cause, fix)
    seconds = asyncio.get_running_loop().time() - started
    listed = None if models is None else engine.model in models
    notes = []
    if listed is False:
        notes.append(f"The model {engine.model!r} is not among the models the server lists: "
                     "calls will fail unless it loads models by name.")
    return Check(True, models=models, model_listed=listed, seconds=seconds, notes=notes)


def explain(exc: ProviderError, engine: EngineSpec, where: str) -> tuple[str, str]:
    """(cause, fix) in an admin's words, from the failure's class and detail."""
    detail = exc.detail
    path = urlsplit(engine.base_url).path or "/"
    if exc.failure is Failure.NOT_CONFIGURED and "API key" in detail:
        return ("The provider needs an API key and none is configured.",
                "Set an API key or API key variable (and make sure the variable is set in "
                "Dihya's environment).")
    if exc.failure is Failure.NOT_CONFIGURED:
        return (f"The engine is not configured: {detail}.", "Correct the base URL.")
    if exc.failure is Failure.CONNECT:
        if "Name or service not known" in detail or "nodename" in detail or "resolve" in detail:
            return (f"The host name in the base URL does not resolve ({where}).",
                    "Check the spelling of the host, or use its IP address.")
        return (f"Nothing listens at {where} ({detail[:160]}).",
                f"Start the engine's server, or correct the host and port of the base URL "
                f"(now {engine.base_url}).")
    if exc.failure is Failure.TIMEOUT:
        return (f"{where} did not answer in time ({engine.connect_timeout:g} seconds to "
                f"connect, {engine.read_timeout:g} seconds to answer).",
                "Check that the server is up, or raise the timeouts (seconds).")
    if exc.failure is Failure.AUTH:
        return (f"The server refused the API key (HTTP {exc.status}).",
                "Check the API key, or the value of the API key variable in Dihya's "
                "environment.")
    if exc.status == 404:
        return (f"The server at {where} answered 404 Not Found for {path!r}.",
                "Correct the base URL's path: OpenAI-compatible servers usually end in /v1, "
                "Ollama's native API has none.")
    return (f"The server answered with an error ({exc.failure}"
            f"{f', HTTP {exc.status}' if exc.status else ''}): {detail[:200]}",
            "Check the engine's provider and base URL.")
