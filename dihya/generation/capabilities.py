"""Whether a route can serve what a request needs, before anything is admitted.

A request needs capabilities (`ChatRequest.needs`: tools, json_schema, vision, audio,
logprobs; `EmbeddingRequest.needs`: embeddings); each engine declares its own
(`Engine.capabilities`). If no engine of the route
has one the request needs, the client is told at once — `400 unsupported_parameter` naming
the field — unless the route lists that field in `drop_params`: then it is removed from the
request and the answer reports it (`X-Dihya-Dropped-Params`). Embeddings cannot be dropped: a
route with no engine that embeds is refused naming `model`. Which engine of the route
serves is the runner's business (it skips the engines that lack something); this module
never calls an engine.
"""

from __future__ import annotations

import dataclasses

from dihya.generation.errors import Refusal
from fallbacks.runner import RunFailed
from fallbacks.spec import ChatRequest, EmbeddingRequest, Request, RouteSpec

#: The request field a capability answers for.
PARAM_OF = {"tools": "tools", "json_schema": "response_format", "logprobs": "logprobs",
            "vision": "messages", "audio": "messages", "embeddings": "model"}


def param_of(capability: str, request: Request) -> str:
    if capability == "tools" and isinstance(request, ChatRequest) and request.legacy_functions:
        return "functions"
    return PARAM_OF.get(capability, capability)


def servable(request: Request, route: RouteSpec) -> tuple[Request, list[str]]:
    """The request the route can serve, and the fields dropped to make it so. (Not to be
    confused with `fallbacks.strategies.fit`: whether a request's tokens fit an engine's
    context window, judged per engine by the runner.)"""
    if not route.engines:
        return request, []  # the runner says the route has no engine
    can = frozenset().union(*(engine.capabilities for engine in route.engines))
    dropped: list[str] = []
    for capability in sorted(request.needs - can):
        param = param_of(capability, request)
        if not isinstance(request, ChatRequest) or param not in route.drop_params:
            raise unsupported(route.name, capability, param)
        request = without(request, capability)
        dropped.append(param)
    return request, dropped


def without(request: ChatRequest, capability: str) -> ChatRequest:
    if capability == "tools":
        return dataclasses.replace(request, tools=(), tool_choice=None, tool_name=None,
                                   parallel_tool_calls=None, legacy_functions=False)
    if capability == "json_schema":
        return dataclasses.replace(request, response_format=None)
    if capability == "logprobs":
        return dataclasses.replace(request, logprobs=False, top_logprobs=None)
    kind = "image_url" if capability == "vision" else "input_audio"
    return dataclasses.replace(request, messages=tuple(
        dataclasses.replace(m, parts=tuple(p for p in m.parts if p.type != kind))
        if m.parts else m for m in request.messages))


def unsupported(route: str, capability: str, param: str) -> Refusal:
    if capability == "embeddings":
        return Refusal(400, "unsupported_parameter",
                       f"No engine of route {route!r} serves embeddings (none declares the "
                       "'embeddings' capability).", param=param)
    return Refusal(400, "unsupported_parameter",
                   f"No engine of route {route!r} supports {param!r} (it needs the "
                   f"{capability!r} capability).", param=param)


def refusal(failed: RunFailed, request: Request) -> Refusal:
    """The runner found no engine with all the request needs (each lacked something)."""
    if isinstance(request, EmbeddingRequest) and any(not isinstance(i, str)
                                                     for i in request.inputs):
        # The route embeds, but no engine of it takes token arrays (Ollama, Mistral).
        return Refusal(400, "unsupported_parameter", "No engine of the route can serve this "
                       f"request (token arrays in `input`?): {failed}", param="input")
    if isinstance(request, EmbeddingRequest) and request.dimensions and any(
            a.detail.startswith("ignores dimensions") for a in failed.attempts):
        return Refusal(400, "unsupported_parameter", "No engine of the route can answer "
                       f"{request.dimensions} dimensions: {failed}", param="dimensions")
    missing = sorted(request.needs - {"chat"})
    param = param_of(missing[0], request) if missing else None
    return Refusal(400, "unsupported_parameter",
                   f"No engine of the route can serve this request: {failed}", param=param)

