"""The OpenAI Responses API: POST /v1/responses, and the stored answers under /v1/responses/{id}.

Thin like `chat_completions`: the dialect (dihya.api.dialects.responses) translates the body
into the one ChatBody, the pipeline admits and runs it as any chat completion (same keys and
scope "chat", allow-lists, consent, quotas, fallbacks, audit, `X-Dihya-*` headers), and the
answer is formatted back. Stored answers (unless `store: false`) are the client's own: another
client's id is the same 404 as an unknown one.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from ninja import Query, Router, Schema
from pydantic import Field

from dihya.api.auth import BearerKey, caller
from dihya.api.dialects.responses import ResponsesBody, Translation, to_chat
from dihya.api.dialects.responses_out import Answering, completed
from dihya.api.dialects.responses_stream import events
from dihya.api.openai import answer_headers, streamed
from dihya.api.schemas import ERRORS
from dihya.gateway.models import Generation, StoredResponse
from dihya.generation import hops, pipeline, stored_responses
from dihya.generation.errors import Refusal

router = Router(tags=["OpenAI-compatible"], auth=BearerKey())


#: The Responses field a refusal about a chat field is about.
CHAT_FIELDS = {"messages": "input", "max_tokens": "max_output_tokens",
               "response_format": "text.format", "reasoning_effort": "reasoning.effort",
               "logprobs": "top_logprobs"}


def new_item_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def admit_response(token: str, body: ResponsesBody) -> tuple[pipeline.Admission, Translation]:
    """Authenticate, continue the stored conversation if asked, translate and admit."""
    return admit_as(caller(token, Generation.Source.CHAT), body)


def admit_as(who: pipeline.Caller, body: ResponsesBody
             ) -> tuple[pipeline.Admission, Translation]:
    """Continue the stored conversation if asked, translate and admit (a batch line too)."""
    history = None
    if body.previous_response_id:
        previous = stored_responses.find(who.client, body.previous_response_id)
        if previous is None:
            raise Refusal(400, "previous_response_not_found", "Previous response with id "
                          f"{body.previous_response_id!r} not found.",
                          param="previous_response_id")
        history = stored_responses.conversation(previous)
    translation = to_chat(body, history=history, new_id=new_item_id)
    try:
        admission = pipeline.admit(who, translation.chat)
    except Refusal as refusal:  # named by the Responses body's field, not the chat one's
        refusal.param = CHAT_FIELDS.get(refusal.param or "", refusal.param)
        raise
    if translation.dropped_tools:
        named = ",".join(dict.fromkeys(translation.dropped_tools))
        admission.headers["X-Dihya-Dropped-Tools"] = named
        admission.dropped_tools = sorted(set(translation.dropped_tools))
    return admission, translation


def keeper(admission: pipeline.Admission, translation: Translation, body: ResponsesBody) -> Any:
    async def keep(response: dict[str, Any]) -> None:
        if body.store:
            await hops.db(stored_responses.keep)(admission.generation, translation.items,
                                                 response)
    return keep


@router.post("/responses", response={200: dict[str, Any], **ERRORS},
             summary="Create a model response (the Responses API; streamed with `stream: true`)",
             operation_id="create_response")
async def create_response(request: HttpRequest, body: ResponsesBody) -> HttpResponseBase:
    """`model` names a route. Hosted tools no engine can run are left out and named in
    `X-Dihya-Dropped-Tools`."""
    admission, translation = await hops.db(admit_response)(request.auth, body)  # type: ignore[attr-defined]
    answering = Answering(admission.generation.pk.hex, body, translation, body.model)
    keep = keeper(admission, translation, body)
    if body.stream:
        streaming = await pipeline.stream(admission)
        return streamed(events(answering, streaming, keep), admission, streaming.engine)
    result = await pipeline.complete(admission)
    answer = completed(answering, result.completion)
    await keep(answer)
    return JsonResponse(answer, headers=answer_headers(admission, result.engine.name))


def not_found(response_id: str) -> Refusal:
    return Refusal(404, "response_not_found", f"Response with id {response_id!r} not found.")


def stored(token: str, response_id: str) -> StoredResponse:
    found = stored_responses.find(caller(token, Generation.Source.CHAT).client, response_id)
    if found is None:  # unknown, or another client's: the same answer
        raise not_found(response_id)
    return found


@router.get("/responses/{response_id}", response={200: dict[str, Any], **ERRORS},
            summary="Retrieve a stored response", operation_id="retrieve_response")
async def retrieve_response(request: HttpRequest, response_id: str) -> HttpResponse:
    found = await hops.db(stored)(request.auth, response_id)  # type: ignore[attr-defined]
    return JsonResponse(found.response)


def forget(token: str, response_id: str) -> None:
    if not stored_responses.forget(caller(token, Generation.Source.CHAT).client, response_id):
        raise not_found(response_id)


@router.delete("/responses/{response_id}", response={200: dict[str, Any], **ERRORS},
               summary="Delete a stored response", operation_id="delete_response")
async def delete_response(request: HttpRequest, response_id: str) -> HttpResponse:
    await hops.db(forget)(request.auth, response_id)  # type: ignore[attr-defined]
    return JsonResponse({"id": response_id, "object": "response", "deleted": True})


class ItemsQuery(Schema):
    order: Literal["asc", "desc"] = "desc"
    limit: int = Field(20, ge=1, le=100)
    after: str | None = None
    include: list[str] | None = None


@router.get("/responses/{response_id}/input_items", response={200: dict[str, Any], **ERRORS},
            summary="The input items of a stored response",
            operation_id="list_response_input_items")
async def input_items(request: HttpRequest, response_id: str,
                      query: Query[ItemsQuery]) -> HttpResponse:
    """The whole conversation the response answered (the items of the responses it continued
    included), newest first unless `order=asc`, paged by `after` (an item id)."""
    found = await hops.db(stored)(request.auth, response_id)  # type: ignore[attr-defined]
    items = list(found.items) if query.order == "asc" else list(reversed(found.items))
    if query.after is not None:
        ids = [item.get("id") for item in items]
        items = items[ids.index(query.after) + 1:] if query.after in ids else []
    page = items[:query.limit]
    return JsonResponse({"object": "list", "data": page,
                         "first_id": page[0].get("id") if page else None,
                         "last_id": page[-1].get("id") if page else None,
                         "has_more": len(items) > len(page)})
