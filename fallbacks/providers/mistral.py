"""Mistral's hosted API (La Plateforme).

Wire format: https://docs.mistral.ai/api/ — `POST /v1/chat/completions`, OpenAI-shaped
bodies and answers, SSE streaming closed by `data: [DONE]`, usage in the last chunk without
asking. Where it differs: the seed is `random_seed`, there is no `stream_options`, and errors
are a flat {"object": "error", "message", "type", "param", "code"}. For tools, `tool_choice`
is `"any"` where OpenAI says `"required"`, a named function is a ToolChoice object
`{"type": "function", "function": {"name"}}`, and tool-call ids must be 9 letters or digits
(mistral-common's validator): other engines' ids (`call_…`) are mapped to such ids, the same
way every time, so a conversation that began elsewhere continues here. It finishes with
`model_length` where OpenAI says `length` (mapped). `logit_bias`, `logprobs` and
`reasoning_effort` have no Mistral spelling: a request with them is `unsupported` here (next
engine), never sent without them. A key is mandatory: without one the engine is skipped as
not configured, before any call. `base_url` is the host (`https://api.mistral.ai`); the
`/v1` prefix is added here (and not twice if it was given).

Embeddings: `POST /v1/embeddings` (docs.mistral.ai/api/endpoint/embeddings), OpenAI's body
and answer but for the vector length, `output_dimension` (codestral-embed; mistral-embed is
1024 wide and takes none), and `input` as text only: token arrays are `unsupported` here.
`encoding_format: float` is Mistral's default too; `output_dtype` is left at its float default.
"""

from __future__ import annotations

import hashlib
import string
from typing import Any

from fallbacks.errors import Failure, ProviderError
from fallbacks.providers.openai_compat import OpenAICompatible
from fallbacks.providers.openai_wire import Dialect
from fallbacks.providers.registry import register
from fallbacks.spec import ChatRequest

ALPHANUMERIC = string.ascii_letters + string.digits


def mistral_id(call_id: str) -> str:
    """A 9-character alphanumeric id for `call_id`: itself if it is one, else a digest."""
    if len(call_id) == 9 and call_id.isascii() and call_id.isalnum():
        return call_id
    number = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    out = []
    for _ in range(9):
        number, digit = divmod(number, len(ALPHANUMERIC))
        out.append(ALPHANUMERIC[digit])
    return "".join(out)


class MistralDialect(Dialect):
    seed_field = "random_seed"

    def call_id(self, call_id: str) -> str:
        return mistral_id(call_id)

    def tool_choice(self, request: ChatRequest) -> Any:
        if request.tool_choice == "required":
            return "any"
        return super().tool_choice(request)

    def extras(self, request: ChatRequest, body: dict[str, Any]) -> None:
        for field, set_ in (("logit_bias", bool(request.logit_bias)),
                            ("logprobs", request.logprobs),
                            ("reasoning_effort", request.reasoning_effort is not None)):
            if set_:
                raise ProviderError(Failure.UNSUPPORTED, f"Mistral has no {field}")
        super().extras(request, body)


@register
class Mistral(OpenAICompatible):
    name = "mistral"
    label = "Mistral API"
    key_required = True
    capabilities = frozenset({"chat", "tools", "json_schema"})
    chat_path = "v1/chat/completions"
    models_path = "v1/models"
    embeddings_path = "v1/embeddings"
    dimensions_field = "output_dimension"
    token_inputs = False
    dialect = MistralDialect()
    usage_in_stream = False

    def url(self, path: str) -> str:
        base = self.engine.base_url.rstrip("/")
        if base.endswith("/v1") and path.startswith("v1/"):
            path = path[3:]
        return base + "/" + path.lstrip("/")
