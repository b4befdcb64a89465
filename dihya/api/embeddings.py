"""POST /v1/embeddings, OpenAI-compatible.

Thin like chat completions (`dihya.api.openai`): the same key check (scope `chat`, the key's
routes), admitted and recorded by the one pipeline (consent, quota, audit), one synchronous
hop before the engines and one after. Only the answer's shape is this module's: OpenAI's
`list` of `embedding` objects, floats or base64 of little-endian float32 (what the openai
SDK asks for by default, and decodes with numpy's `frombuffer(..., dtype="float32")`).
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from ninja import Router

from dihya.api.auth import BearerKey, caller
from dihya.api.openai import answer_headers
from dihya.api.schemas import ERRORS, EmbeddingList
from dihya.gateway.models import Generation
from dihya.generation import hops, pipeline
from dihya.generation.requests import EmbeddingBody
from fallbacks.runner import EmbedResult

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


def answer(admission: pipeline.Admission, result: EmbedResult, encoding: str) -> dict[str, Any]:
    e = result.embeddings
    encode = as_base64 if encoding == "base64" else list
    return {"object": "list",
            "data": [{"object": "embedding", "index": i, "embedding": encode(vector)}
                     for i, vector in enumerate(e.vectors)],
            "model": admission.route.name,
            "usage": {"prompt_tokens": e.usage.prompt_tokens,
                      "total_tokens": e.usage.prompt_tokens}}


def as_base64(vector: tuple[float, ...]) -> str:
    """OpenAI's base64 encoding: the vector's float32 values, little-endian, base64."""
    values = array("f", vector)
    if sys.byteorder == "big":
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")
