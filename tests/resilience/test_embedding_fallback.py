"""Fallback for embeddings: only among engines of the route's model, and only vectors of the
route's length — never a mixed result, never an engine blamed for what it cannot do."""

from __future__ import annotations

import httpx
import pytest
import respx

from dihya.lib import loop
from fallbacks.runner import RunFailed, Runner
from fallbacks.spec import EmbeddingRequest, EngineSpec, RouteSpec
from tests.resilience.test_capabilities import Recording

EMBED = frozenset({"embeddings"})
CHAT = frozenset({"chat"})
TWO = EmbeddingRequest(("first", "second"))


def vectors(width: int, count: int = 2) -> httpx.Response:
    return httpx.Response(200, json={
        "object": "list", "model": "e5",
        "data": [{"object": "embedding", "index": i, "embedding": [0.1 * (i + 1)] * width}
                 for i in range(count)],
        "usage": {"prompt_tokens": 4, "total_tokens": 4}})


def route(*engines: tuple[str, str, frozenset[str]], dimension: int | None = None) -> RouteSpec:
    return RouteSpec(id=1, name="embed", strategy="ordered", max_tokens=0,
                     embedding_dimension=dimension, engines=tuple(
                         EngineSpec(id=i + 1, name=n, provider="openai",
                                    base_url=f"http://{n}/v1", model=model, capabilities=caps)
                         for i, (n, model, caps) in enumerate(engines)))


def outcomes(attempts) -> list[tuple[str, str]]:
    return [(a.engine, a.outcome) for a in attempts]


@respx.mock
def test_an_engine_without_embeddings_is_skipped_at_no_cost():
    chat = respx.post("http://chat/v1/embeddings").mock(return_value=vectors(4))
    respx.post("http://embed/v1/embeddings").mock(return_value=vectors(4))
    health = Recording()

    result = loop.run(Runner(health).embed(
        route(("chat", "e5", CHAT), ("embed", "e5", EMBED)), TWO))

    assert result.engine.name == "embed" and not chat.called
    assert outcomes(result.attempts) == [("chat", "unsupported"), ("embed", "ok")]
    assert result.attempts[0].detail == "lacks embeddings"
    assert health.told == [("embed", None)]


@respx.mock
def test_an_engine_of_another_model_is_never_a_fallback():
    respx.post("http://a/v1/embeddings").mock(return_value=httpx.Response(503))
    other = respx.post("http://b/v1/embeddings").mock(return_value=vectors(4))
    respx.post("http://c/v1/embeddings").mock(return_value=vectors(4))

    result = loop.run(Runner().embed(
        route(("a", "e5", EMBED), ("b", "bge", EMBED), ("c", "e5", EMBED)), TWO))

    assert result.engine.name == "c" and not other.called
    assert outcomes(result.attempts)[-2:] == [("b", "unsupported"), ("c", "ok")]
    assert result.attempts[-2].detail == "embeds with 'bge'; the route's vectors are 'e5''s"


@respx.mock
def test_the_model_is_the_first_embedding_engines_even_when_a_chat_engine_leads():
    respx.post("http://a/v1/embeddings").mock(return_value=vectors(4))

    result = loop.run(Runner().embed(
        route(("chat", "llama", CHAT), ("a", "e5", EMBED)), TWO))

    assert result.engine.name == "a"


@respx.mock
def test_an_answer_of_another_dimension_than_the_pin_fails_and_the_next_serves():
    respx.post("http://a/v1/embeddings").mock(return_value=vectors(8))
    respx.post("http://b/v1/embeddings").mock(return_value=vectors(4))

    result = loop.run(Runner().embed(
        route(("a", "e5", EMBED), ("b", "e5", EMBED), dimension=4), TWO))

    assert result.engine.name == "b"
    assert result.embeddings.dimension == 4
    assert outcomes(result.attempts) == [("a", "bad_response"), ("b", "ok")]
    assert result.attempts[0].detail == ("answered vectors of 8 dimensions; the route's are 4")


@respx.mock
def test_the_dimension_a_client_asks_for_is_the_one_checked():
    """llama.cpp ignores `dimensions`: its full-width answer is refused, not handed over, and
    the engine is not blamed (unsupported: its breaker hears nothing)."""
    respx.post("http://a/v1/embeddings").mock(return_value=vectors(576))
    respx.post("http://b/v1/embeddings").mock(return_value=vectors(64))

    result = loop.run(Runner().embed(
        route(("a", "e5", EMBED), ("b", "e5", EMBED)),
        EmbeddingRequest(TWO.inputs, dimensions=64)))

    assert result.engine.name == "b"
    assert outcomes(result.attempts) == [("a", "unsupported"), ("b", "ok")]
    assert result.attempts[0].detail == ("ignores dimensions: answered vectors of 576 "
                                         "dimensions, not 64")


@respx.mock
def test_fewer_vectors_than_inputs_is_a_failed_attempt():
    respx.post("http://a/v1/embeddings").mock(return_value=vectors(4, count=1))
    respx.post("http://b/v1/embeddings").mock(return_value=vectors(4))

    result = loop.run(Runner().embed(route(("a", "e5", EMBED), ("b", "e5", EMBED)), TWO))

    assert outcomes(result.attempts) == [("a", "bad_response"), ("b", "ok")]
    assert result.attempts[0].detail == "1 vectors for 2 inputs"


@respx.mock
def test_an_engine_started_without_embeddings_moves_on_without_blame():
    respx.post("http://a/v1/embeddings").mock(return_value=httpx.Response(501, json={
        "error": {"code": 501, "type": "not_supported_error", "message":
                  "This server does not support embeddings. Start it with `--embeddings`"}}))
    respx.post("http://b/v1/embeddings").mock(return_value=vectors(4))
    health = Recording()

    result = loop.run(Runner(health).embed(route(("a", "e5", EMBED), ("b", "e5", EMBED)), TWO))

    assert outcomes(result.attempts) == [("a", "unsupported"), ("b", "ok")]
    assert health.told == [("b", None)]


def test_no_engine_that_can_embed_is_unsupported_parameter():
    with pytest.raises(RunFailed) as failed:
        loop.run(Runner().embed(route(("a", "llama", CHAT), ("b", "llama", CHAT)), TWO))
    assert failed.value.code == "unsupported_parameter"


@respx.mock
def test_token_arrays_on_ollama_fall_back_to_an_engine_that_takes_them():
    respx.post("http://b/v1/embeddings").mock(return_value=vectors(4))
    spec = route(("a", "e5", EMBED), ("b", "e5", EMBED))
    ollama = EngineSpec(id=1, name="a", provider="ollama", base_url="http://a", model="e5",
                        capabilities=EMBED)
    spec = RouteSpec(id=1, name="embed", strategy="ordered", max_tokens=0,
                     engines=(ollama, spec.engines[1]))

    result = loop.run(Runner().embed(spec, EmbeddingRequest(((1, 2), (3,)))))

    assert outcomes(result.attempts) == [("a", "unsupported"), ("b", "ok")]
