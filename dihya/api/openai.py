"""The OpenAI-compatible endpoints: POST /v1/chat/completions, GET /v1/models (and one).

Thin on purpose: authenticate, admit through `dihya.generation.pipeline`, run, format. Each
request makes one synchronous hop for its database work before the engine is called (key check and
admission together) and the pipeline makes one after; the engine call itself never blocks the
event loop, so one web process serves many streams at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from ninja import Router

from dihya.api.auth import BearerKey, caller
from dihya.api.dialects import anthropic_answer as anthropic
from dihya.api.dialects import openai_chat
from dihya.api.schemas import ERRORS, ChatCompletion, Model, ModelList
from dihya.gateway.models import Generation
from dihya.generation import hops, pipeline
from dihya.generation.errors import Refusal
from dihya.generation.requests import ChatBody
from fallbacks import aliases, catalog
from fallbacks.models import Route, RouteEngine
from fallbacks.spec import CAPABILITIES

router = Router(tags=["OpenAI-compatible"], auth=BearerKey())


def answer_headers(admission: pipeline.Admission, engine: str) -> dict[str, str]:
    """What every successful answer carries: the guards' headers (rate limits…), our ids."""
    headers = dict(admission.headers)
    headers["X-Dihya-Generation"] = str(admission.generation.pk)
    headers["X-Dihya-Engine"] = engine
    return headers


def streamed(events: AsyncIterator[bytes], admission: pipeline.Admission,
             engine: str) -> StreamingHttpResponse:
    """A streamed answer in any dialect: server-sent events passed on as they come (no proxy
    buffering, no cache), with the answer's headers."""
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass chunks through as they come
    for name, value in answer_headers(admission, engine).items():
        response[name] = value
    return response


def admit_chat(token: str, body: ChatBody) -> pipeline.Admission:
    return pipeline.admit(caller(token, Generation.Source.CHAT), body)


@router.post("/chat/completions", response={200: ChatCompletion, **ERRORS},
             summary="Create a chat completion (streamed with `stream: true`)",
             operation_id="create_chat_completion")
async def chat_completions(request: HttpRequest, body: ChatBody) -> HttpResponseBase:
    """`model` names a route; fallback across its engines happens before the first token.
    Answers carry `X-Dihya-Generation` and `X-Dihya-Engine`."""
    admission = await hops.db(admit_chat)(request.auth, body)  # type: ignore[attr-defined]
    if body.stream:
        streaming = await pipeline.stream(admission)
        return streamed(openai_chat.chunks(admission, streaming), admission, streaming.engine)
    result = await pipeline.complete(admission)
    return JsonResponse(openai_chat.completion(admission, result),
                        headers=answer_headers(admission, result.engine.name))


def routes_for(token: str, name: str | None = None) -> list[dict[str, object]]:
    """The routes this key may use, each with what its enabled engines can do together
    (`capabilities`), the other names it answers to (`aliases`) and where its engines
    process data (`engines`: region, processor, masking): extra fields OpenAI's model object
    does not have. Each exact alias is listed too, as a model of its own
    (`alias_of` its route), for clients that check the list for the name they were told
    to send; patterns are no names and are listed only in their route's `aliases`.
    With `name`: that route, else the alias entry for `name` if it resolves to one."""
    allowed = caller(token, Generation.Source.CHAT).allowed_routes
    routes = Route.objects.order_by("name").prefetch_related(Prefetch(
        "steps", queryset=RouteEngine.objects.filter(engine__enabled=True)
        .select_related("engine")))
    if allowed is not None:
        routes = routes.filter(pk__in=allowed)
    entries: list[dict[str, object]] = []
    for route in routes:
        listed = [a for a in route.aliases or () if isinstance(a, str)]
        entry: dict[str, object] = {
            "id": route.name, "object": "model", "created": int(route.created.timestamp()),
            "owned_by": "dihya", "capabilities": [c for c in CAPABILITIES if any(
                c in step.engine.capability_set() for step in route.steps.all())],
            "aliases": listed,
            "engines": [{"region": step.engine.region, "processor": step.engine.processor,
                         "mask": step.engine.masks} for step in route.steps.all()]}
        entries.append(entry)
        entries += [{**entry, "id": alias, "aliases": [], "alias_of": route.name}
                    for alias in listed if not aliases.is_pattern(alias)]
    if name is None:
        return sorted(entries, key=lambda e: str(e["id"]))
    if found := [e for e in entries if e["id"] == name and "alias_of" not in e]:
        return found
    spec = catalog.route_spec(name)  # an exact alias or a pattern: what a call would reach
    return [{**e, "id": name, "aliases": [], "alias_of": e["id"]} for e in entries
            if spec is not None and e["id"] == spec.name and "alias_of" not in e]


@router.get("/models", response={200: ModelList, **ERRORS}, summary="List the routes this key "
            "may use", operation_id="list_models")
async def models(request: HttpRequest) -> HttpResponse:
    data = await hops.db(routes_for)(request.auth)  # type: ignore[attr-defined]
    if "anthropic-version" in request.headers:  # an Anthropic client: its shape
        return JsonResponse(anthropic.model_list(data))
    return JsonResponse({"object": "list", "data": data})


@router.get("/models/{model}", response={200: Model, **ERRORS},
            summary="One route this key may use", operation_id="retrieve_model")
async def model(request: HttpRequest, model: str) -> HttpResponse:
    found = await hops.db(routes_for)(request.auth, model)  # type: ignore[attr-defined]
    if not found:  # unknown, or not this key's: the same answer, so names cannot be probed
        raise Refusal(404, "model_not_found", f"The model (route) {model!r} does not exist.",
                      param="model")
    if "anthropic-version" in request.headers:
        return JsonResponse(anthropic.model_of(found[0]))
    return JsonResponse(found[0])

