"""Embeddings on each provider's documented wire format: what we send, what we read back,
and how an engine that cannot embed is told apart from one that failed."""

from __future__ import annotations

import pytest

from fallbacks.errors import Failure
from fallbacks.spec import EmbeddingRequest, Usage
from tests.providers.fakes import Fake, answer, failure_of, fixture, run

TEXTS = EmbeddingRequest(("Why is the sky blue?", "Why is the grass green?"))
TOKENS = EmbeddingRequest(((9906, 1917), (15339,)))


def embed(fake: Fake, provider: str, request: EmbeddingRequest = TEXTS):
    return run(fake.provider(provider).embed(request))


# --- OpenAI-compatible (llama.cpp --embeddings, vLLM, OpenAI) -----------------------------

def test_openai_posts_inputs_as_floats_and_reads_vectors_in_index_order():
    fake = Fake(answer(200, fixture("openai_embeddings.json")))

    result = embed(fake, "openai")

    assert str(fake.requests[0].url) == "http://engine.test/v1/embeddings"
    assert fake.body == {"model": "test-model", "encoding_format": "float",
                         "input": ["Why is the sky blue?", "Why is the grass green?"]}
    assert result.vectors == ((0.0023064255, -0.009327292, -0.0028842222), (0.5, -0.25, 0.125))
    assert result.usage == Usage(8, 0)
    assert (result.engine, result.model, result.dimension) == (
        "openai-engine", "text-embedding-3-small", 3)


def test_openai_sends_token_arrays_and_dimensions_as_openai_spells_them():
    fake = Fake(answer(200, fixture("openai_embeddings.json")))

    embed(fake, "openai", EmbeddingRequest(TOKENS.inputs, dimensions=256))

    assert fake.body["input"] == [[9906, 1917], [15339]]
    assert fake.body["dimensions"] == 256


@pytest.mark.parametrize("body", ['{"object": "list"}', '{"data": [{"embedding": null}]}',
                                  '{"data": [{"embedding": ["x"]}]}', '[1, 2]'])
def test_openai_answer_without_float_vectors_is_a_bad_response(body):
    assert failure_of(lambda: embed(Fake(answer(200, body)), "openai")).failure is \
        Failure.BAD_RESPONSE


def test_llama_cpp_without_embeddings_is_unsupported_not_a_sick_engine():
    fake = Fake(answer(501, fixture("llamacpp_no_embeddings.json")))

    error = failure_of(lambda: embed(fake, "openai"))

    assert error.failure is Failure.UNSUPPORTED
    assert "--embeddings" in error.detail


@pytest.mark.parametrize(("status", "body"), [
    (500, '{"error": {"message": "this model does not support embeddings", '
          '"type": "api_error", "param": null, "code": null}}'),  # Ollama's /v1
    (400, '{"object": "error", "message": "The model does not support the Embeddings API", '
          '"type": "BadRequestError", "param": null, "code": 400}'),  # vLLM, a generate model
])
def test_an_engine_whose_model_cannot_embed_is_unsupported(status, body):
    error = failure_of(lambda: embed(Fake(answer(status, body)), "openai"))
    assert error.failure is Failure.UNSUPPORTED


def test_a_real_bad_request_stays_the_clients():
    body = '{"error": {"message": "Input content cannot be empty", "type": "invalid_request_error", "code": 400}}'  # noqa: E501 - llama.cpp's, recorded
    assert failure_of(lambda: embed(Fake(answer(400, body)), "openai")).failure is \
        Failure.BAD_REQUEST


# --- Ollama /api/embed --------------------------------------------------------------------

def test_ollama_posts_the_documented_embed_body():
    fake = Fake(answer(200, fixture("ollama_embed.json")))

    result = embed(fake, "ollama")

    assert str(fake.requests[0].url) == "http://engine.test/api/embed"
    assert fake.body == {"model": "test-model", "truncate": False,
                         "input": ["Why is the sky blue?", "Why is the grass green?"]}
    assert result.vectors == ((0.010071029, -0.0017594862, 0.05007221),
                              (-0.0098027075, 0.06042469, 0.025257962))
    assert result.usage == Usage(8, 0)
    assert result.model == "all-minilm"


def test_ollama_passes_dimensions():
    fake = Fake(answer(200, fixture("ollama_embed.json")))
    embed(fake, "ollama", EmbeddingRequest(TEXTS.inputs, dimensions=2))
    assert fake.body["dimensions"] == 2


def test_ollama_refuses_token_arrays_before_calling():
    fake = Fake(answer(200, fixture("ollama_embed.json")))

    error = failure_of(lambda: embed(fake, "ollama", TOKENS))

    assert error.failure is Failure.UNSUPPORTED
    assert "text only" in error.detail
    assert fake.requests == []


@pytest.mark.parametrize("status", [400, 500])
def test_ollama_model_that_cannot_embed_is_unsupported(status):
    error = failure_of(lambda: embed(Fake(answer(status, fixture("ollama_no_embeddings.json"))),
                                     "ollama"))
    assert error.failure is Failure.UNSUPPORTED


def test_ollama_null_vectors_are_a_bad_response():
    """What Ollama answered gemma3 before it refused outright (ollama/ollama#9739)."""
    body = '{"model": "gemma3:1b", "embeddings": [null], "prompt_eval_count": 10}'
    assert failure_of(lambda: embed(Fake(answer(200, body)), "ollama",
                                    EmbeddingRequest(("x",)))).failure is Failure.BAD_RESPONSE


def test_ollama_input_too_long_is_a_context_error():
    body = '{"error": "the input length exceeds the context length"}'
    assert failure_of(lambda: embed(Fake(answer(400, body)), "ollama")).failure is \
        Failure.CONTEXT_TOO_LONG


# --- Mistral /v1/embeddings ---------------------------------------------------------------

def test_mistral_posts_output_dimension_and_reads_the_answer():
    fake = Fake(answer(200, fixture("mistral_embeddings.json")))

    result = embed(fake, "mistral", EmbeddingRequest(TEXTS.inputs, dimensions=3))

    assert str(fake.requests[0].url) == "https://api.mistral.test/v1/embeddings"
    assert fake.requests[0].headers["authorization"] == "Bearer sk-test"
    assert fake.body == {"model": "test-model", "encoding_format": "float",
                         "input": ["Why is the sky blue?", "Why is the grass green?"],
                         "output_dimension": 3}
    assert [len(v) for v in result.vectors] == [3, 3]
    assert result.vectors[0][0] == -0.016632080078125
    assert result.usage == Usage(15, 0)


def test_mistral_refuses_token_arrays_before_calling():
    fake = Fake(answer(200, fixture("mistral_embeddings.json")))

    error = failure_of(lambda: embed(fake, "mistral", TOKENS))

    assert error.failure is Failure.UNSUPPORTED
    assert fake.requests == []
