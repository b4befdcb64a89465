"""Anthropic's Messages API: POST /v1/messages, POST /v1/messages/count_tokens, and `HEAD /`.

Thin, as `dihya.api.openai`: the dialect (`dihya.api.dialects.anthropic`) turns the request
into a ChatBody, the pipeline admits and runs it exactly as a chat completion (keys and the
"chat" scope, route allow-lists, consent, quotas, fallbacks, audit), and the dialect formats
the answer. Anthropic's clients send `?beta=true`, `anthropic-version` and `anthropic-beta`:
accepted, and nothing depends on them. Errors here are Anthropic-shaped (dihya.api).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from ninja import Router

from dihya.api.auth import BearerKey, caller
from dihya.api.dialects import anthropic, anthropic_answer, anthropic_stream
from dihya.api.dialects.anthropic_schema import (
    ANTHROPIC_ERRORS,
    MessageOut,
    MessagesBody,
    MessagesInput,
    TokenCount,
)
from dihya.api.openai import admit_chat, answer_headers, streamed
from dihya.gateway.models import Generation
from dihya.generation import hops, pipeline, records
from dihya.generation.errors import Refusal
from dihya.generation.requests import ChatBody
from fallbacks import catalog, tokenize
from fallbacks.spec import PART_CHARS, ChatRequest, RouteSpec

router = Router(tags=["Anthropic-compatible"], auth=BearerKey())


@router.post("/messages", response={200: MessageOut, **ANTHROPIC_ERRORS},
             summary="Create a message, as Anthropic's Messages API (streamed with "
             "`stream: true`)", operation_id="create_message")
async def messages(request: HttpRequest, body: MessagesBody) -> HttpResponseBase:
    """`model` names a route. Answers carry `X-Dihya-Generation` and `X-Dihya-Engine`, and
    name what was left out in `X-Dihya-Dropped-Params` / `X-Dihya-Dropped-Tools`."""
    translated = anthropic.to_chat(body)
    admission = await hops.db(admit_chat)(request.auth, translated.body)  # type: ignore[attr-defined]
    anthropic.note_drops(admission, translated)
    if body.stream:
        streaming = await pipeline.stream(admission)
        return streamed(anthropic_stream.events(admission, streaming, body.model,
                                                thinking=translated.thinking),
                        admission, streaming.engine)
    result = await pipeline.complete(admission)
    return JsonResponse(anthropic_answer.message(admission, result, body.model,
                                                 thinking=translated.thinking),
                        headers=answer_headers(admission, result.engine.name))


def counting(token: str, body: ChatBody) -> tuple[RouteSpec, ChatRequest]:
    """The route a count is for (the key must be allowed it) and the prompt as engines get it."""
    allowed = caller(token, Generation.Source.CHAT).allowed_routes
    route = catalog.route_spec(body.model)
    if route is None:
        raise Refusal(404, "model_not_found", f"The model (route) {body.model!r} does not exist.",
                      param="model")
    if allowed is not None and route.id not in allowed:
        raise Refusal(403, "route_not_allowed",
                      f"This API key may not use the route {body.model!r}.", param="model")
    return route, records.request_of(body, 1)


def prompt_text(request: ChatRequest) -> str:
    """Everything of the prompt that is text, as one string for a tokenizer."""
    lines = [f"{m.role}: {m.content}" + "".join(f"\n{c.name}({c.arguments})"
                                                 for c in m.tool_calls)
             for m in request.messages]
    lines += [f"tool {t.name}: {t.description or ''} {t.parameters or {}}" for t in request.tools]
    return "\n".join(lines)


@router.post("/messages/count_tokens", response={200: TokenCount, **ANTHROPIC_ERRORS},
             summary="Count a message's input tokens", operation_id="count_message_tokens")
async def count_tokens(request: HttpRequest, body: MessagesInput) -> HttpResponse:
    """With the route's first engine's tokenizer where it has one (llama.cpp's `/tokenize`);
    otherwise, or if it fails, the quotas' estimate: characters / 4. Images count as
    PART_CHARS characters each either way. No generation is made."""
    translated = anthropic.to_chat(body)
    route, chat = await hops.db(counting)(request.auth, translated.body)  # type: ignore[attr-defined]
    parts = sum(len(m.parts) for m in chat.messages) * PART_CHARS // 4
    counted = await tokenize.count(route.engines[0], prompt_text(chat)) if route.engines \
        else None
    return JsonResponse({"input_tokens": (chat.prompt_chars // 4 if counted is None
                                          else counted + parts)})


def probe(request: HttpRequest) -> HttpResponse:
    """`HEAD /`: Claude Code checks the base URL answers before its first call. A GET of the
    root is still nobody's page."""
    if request.method == "HEAD":
        return HttpResponse(status=200)
    raise Http404
