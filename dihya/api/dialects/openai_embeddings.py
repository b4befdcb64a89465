"""OpenAI's embeddings answer: a `list` of `embedding` objects, floats or base64.

base64 is little-endian float32, what the openai SDK asks for by default and decodes with
numpy's `frombuffer(..., dtype="float32")`. The request side needs no translation: the
canonical `EmbeddingBody` is OpenAI's own shape.
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dihya.generation.admission import Admission
    from fallbacks.runner import EmbedResult


def answer(admission: Admission, result: EmbedResult, encoding: str) -> dict[str, Any]:
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
