"""Embeddings from the real llama.cpp server (SmolLM2 with `--embeddings`, mean pooling),
through the runner and the OpenAI-compatible provider: the wire format we parse is the one
llama.cpp really sends, not one we wrote down."""

from __future__ import annotations

import math

import httpx
import pytest

from dihya.lib import loop
from fallbacks.runner import RunFailed, Runner
from fallbacks.spec import EmbeddingRequest, EngineSpec, RouteSpec

pytestmark = pytest.mark.engine

CAPS = frozenset({"chat", "embeddings"})


def route(embedding_engine, *, dimension: int | None = None) -> RouteSpec:
    engine = EngineSpec(id=1, name="llama-embed", provider="openai",
                        base_url=embedding_engine.url, model=embedding_engine.model,
                        read_timeout=60.0, capabilities=CAPS)
    return RouteSpec(id=1, name="embed", strategy="ordered", max_tokens=0, engines=(engine,),
                     embedding_dimension=dimension)


def cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_it_embeds_a_list_of_strings_in_order_with_usage(embedding_engine):
    texts = ("The cat sat on the mat.", "Quarterly revenue grew by four percent.",
             "The cat sat on the mat.")

    result = loop.run(Runner().embed(route(embedding_engine), EmbeddingRequest(texts)))

    vectors = result.embeddings.vectors
    assert [len(v) for v in vectors] == [embedding_engine.dimension] * 3
    assert result.embeddings.usage.prompt_tokens > 0
    assert result.embeddings.usage.completion_tokens == 0
    assert [a.outcome for a in result.attempts] == ["ok"]
    # In order: the repeated text comes back as the same vector, the other one does not.
    assert cosine(vectors[0], vectors[2]) == pytest.approx(1.0, abs=1e-5)
    assert cosine(vectors[0], vectors[1]) < 0.999


def test_it_embeds_token_arrays(embedding_engine):
    request = EmbeddingRequest(((791, 8415, 3290), (36, 47, 51, 60, 12)))

    result = loop.run(Runner().embed(route(embedding_engine), request))

    assert [len(v) for v in result.embeddings.vectors] == [embedding_engine.dimension] * 2
    assert result.embeddings.vectors[0] != result.embeddings.vectors[1]
    assert result.embeddings.usage.prompt_tokens == 8  # llama.cpp counts the tokens it got


def test_a_text_and_its_tokens_are_one_vector_in_a_mixed_list(embedding_engine):
    """A token array is embedded as the tokens llama.cpp itself makes of the text."""
    base = embedding_engine.url.removesuffix("/v1")
    text = "Quarterly revenue grew by four percent."
    tokens = tuple(httpx.post(base + "/tokenize", json={"content": text, "add_special": True},
                              timeout=10)
                   .json()["tokens"])

    result = loop.run(Runner().embed(route(embedding_engine),
                                     EmbeddingRequest(("The cat sat on the mat.", tokens, text))))

    cat, from_tokens, from_text = result.embeddings.vectors
    assert cosine(from_tokens, from_text) == pytest.approx(1.0, abs=1e-5)
    assert cosine(cat, from_text) < 0.999


def test_llama_cpp_ignores_dimensions_so_the_runner_refuses_its_answer(embedding_engine):
    """llama.cpp answers the model's width whatever `dimensions` says: handing that to a
    client that asked for 64 would corrupt its index, so the engine cannot serve the call
    (unsupported: the API answers 400 naming `dimensions`)."""
    with pytest.raises(RunFailed) as failed:
        loop.run(Runner().embed(route(embedding_engine),
                                EmbeddingRequest(("hello",), dimensions=64)))

    attempt = failed.value.attempts[0]
    assert failed.value.code == "unsupported_parameter" and attempt.outcome == "unsupported"
    assert f"answered vectors of {embedding_engine.dimension} dimensions" in attempt.detail


def test_a_route_pinned_to_another_dimension_refuses_the_answer(embedding_engine):
    with pytest.raises(RunFailed) as failed:
        loop.run(Runner().embed(route(embedding_engine, dimension=768),
                                EmbeddingRequest(("hello",))))
    assert "the route's are 768" in failed.value.attempts[0].detail


def test_a_route_pinned_to_its_dimension_is_served(embedding_engine):
    result = loop.run(Runner().embed(route(embedding_engine, dimension=576),
                                     EmbeddingRequest(("hello",))))
    assert result.embeddings.dimension == 576


def test_a_chat_server_declared_to_embed_moves_on_to_the_embedding_server(llama,
                                                                          embedding_engine):
    """The chat llama.cpp (no --embeddings) answers 501: unsupported, and the next serves."""
    chat = EngineSpec(id=2, name="llama-chat", provider="openai", base_url=llama,
                      model=embedding_engine.model, read_timeout=60.0, capabilities=CAPS)
    spec = route(embedding_engine)
    spec = RouteSpec(id=1, name="embed", strategy="ordered", max_tokens=0,
                     engines=(chat, *spec.engines))

    result = loop.run(Runner().embed(spec, EmbeddingRequest(("hello",))))

    assert [(a.engine, a.outcome, a.status_code) for a in result.attempts] == [
        ("llama-chat", "unsupported", 501), ("llama-embed", "ok", None)]
    assert "Start it with `--embeddings`" in result.attempts[0].detail
