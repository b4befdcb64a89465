"""POST /v1/embeddings, OpenAI-compatible.

Thin like chat completions (`dihya.api.openai`): the same key check (scope `chat`, the key's
routes), admitted and recorded by the one pipeline (consent, quota, audit), one synchronous
hop before the engines and one after. The answer's shape is the dialect's
(`dihya.api.dialects.openai_embeddings`).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from ninja import Router

from dihya.api.auth import BearerKey, caller
from dihya.api.dialects.openai_embeddings import answer
from dihya.api.openai import answer_headers
from dihya.api.schemas import ERRORS, EmbeddingList
from dihya.gateway.models import Generation
from dihya.generation import hops, pipeline
from dihya.generation.requests import EmbeddingBody

router = Router(tags=["OpenAI-compatible"], auth=BearerKey())


def admit_embeddings(token: str, body: EmbeddingBody) -> pipeline.Admission:
    return pipeline.admit(caller(token, Generation.Source.CHAT), body)


@router.post("/embeddings", response={200: EmbeddingList, **ERRORS},
             summary="Create embeddings", operation_id="create_embedding")
async def embeddings(request: HttpRequest, body: EmbeddingBody) -> HttpResponseBase:
    """`model` names a route whose engines embed with one model; fallback stays among them,
    and vectors keep the route's length. Answers carry `X-Dihya-Generation` and
    `X-Dihya-Engine`."""
    admission = await hops.db(admit_embeddings)(request.auth, body)  # type: ignore[attr-defined]
    result = await pipeline.embed(admission)
    return JsonResponse(answer(admission, result, body.encoding_format),
                        headers=answer_headers(admission, result.engine.name))
