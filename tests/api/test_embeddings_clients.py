"""Real clients against a live Dihya and a real embedding engine: the openai SDK's
`embeddings.create` and LangChain's `OpenAIEmbeddings`, on llama.cpp serving SmolLM2 in
embedding mode (the `embedding_engine` fixture, tests/conftest.py).

Token arrays work end to end when they are the engine's own token ids (llama.cpp's
`/tokenize`). LangChain's default (`check_embedding_ctx_length=True`) tokenizes with tiktoken
for OpenAI's models, which needs a download this machine cannot make, and whose ids mean
nothing to another vocabulary: against a non-OpenAI engine use
`check_embedding_ctx_length=False` (docs/api.md). Ids the engine's vocabulary lacks are the
client's 400, never a 500.
"""

from __future__ import annotations

import base64
import math
import struct

import httpx
import openai
import pytest
from langchain_openai import OpenAIEmbeddings

from dihya.gateway.models import Attempt, Generation
from fallbacks.models import Route
from tests.conftest import recorded

pytestmark = pytest.mark.engine

CAT = "The cat sat on the mat."
REVENUE = "Quarterly revenue grew by four percent."


def cosine(a, b) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.fixture
def embed_engine(embedding_engine, make_engine):
    return make_engine(embedding_engine.url, name="llama-embed", model=embedding_engine.model,
                       capabilities=["embeddings"])


@pytest.fixture
def key(api, embed_engine, make_route, make_key) -> str:
    make_route("embed", embed_engine)
    return make_key(routes=["embed"])


@pytest.fixture
def sdk(api, key) -> openai.OpenAI:
    return openai.OpenAI(base_url=api + "/v1", api_key=key, max_retries=0, timeout=120)


def test_the_sdk_asks_base64_by_default_and_gets_the_engines_vectors(sdk, embedding_engine):
    raw = sdk.embeddings.with_raw_response.create(model="embed", input=CAT)
    done = raw.parse()

    sent = raw.http_response.json()["data"][0]["embedding"]
    assert isinstance(sent, str)  # the SDK asked base64, and decoded it
    vector = done.data[0].embedding
    assert len(vector) == embedding_engine.dimension
    assert list(struct.unpack(f"<{len(vector)}f", base64.b64decode(sent))) == vector
    direct = httpx.post(embedding_engine.url + "/embeddings", timeout=60, json={
        "model": embedding_engine.model, "input": CAT}).json()["data"][0]["embedding"]
    assert cosine(vector, direct) > 0.9999
    assert done.model == "embed"
    assert done.usage.prompt_tokens == done.usage.total_tokens > 0
    recorded()
    g = Generation.objects.get()
    assert (g.kind, g.prompt_tokens, g.engine_name) == \
        ("embeddings", done.usage.prompt_tokens, "llama-embed")
    assert raw.headers["X-Dihya-Generation"] == str(g.pk)
    assert raw.headers["X-Dihya-Engine"] == "llama-embed"
    assert Route.objects.get(name="embed").embedding_dimension == embedding_engine.dimension


def test_the_sdk_gets_floats_for_a_list_in_order(sdk, embedding_engine):
    done = sdk.embeddings.create(model="embed", input=[CAT, REVENUE, CAT],
                                 encoding_format="float")

    vectors = [d.embedding for d in done.data]
    assert [d.index for d in done.data] == [0, 1, 2]
    assert all(len(v) == embedding_engine.dimension for v in vectors)
    assert cosine(vectors[0], vectors[2]) > 0.9999
    assert cosine(vectors[0], vectors[1]) < 0.99
    recorded()
    assert Generation.objects.get().result == \
        f"3 vectors of {embedding_engine.dimension} dimensions"


def test_token_arrays_of_the_engines_own_ids_embed_like_the_text(sdk, embedding_engine):
    ids = httpx.post(embedding_engine.url.removesuffix("/v1") + "/tokenize", timeout=30,
                     json={"content": CAT, "add_special": True}).json()["tokens"]

    by_ids = sdk.embeddings.create(model="embed", input=[ids], encoding_format="float")
    one_array = sdk.embeddings.create(model="embed", input=ids, encoding_format="float")
    by_text = sdk.embeddings.create(model="embed", input=CAT, encoding_format="float")

    assert by_ids.usage.prompt_tokens == len(ids)
    assert cosine(by_ids.data[0].embedding, by_text.data[0].embedding) > 0.999
    assert one_array.data[0].embedding == by_ids.data[0].embedding
    recorded()
    assert Generation.objects.order_by("created").first().request["inputs"] == [ids]


def test_ids_outside_the_engines_vocabulary_are_the_clients_400(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.embeddings.create(model="embed", input=[[100_000, 100_001]])

    assert caught.value.status_code == 400
    recorded()
    assert Generation.objects.get().status == "failed"


def test_langchain_embeds_documents_and_a_query(api, key, embedding_engine):
    embeddings = OpenAIEmbeddings(base_url=api + "/v1", api_key=key, model="embed",
                                  check_embedding_ctx_length=False, max_retries=0,
                                  timeout=120)

    documents = embeddings.embed_documents([CAT, REVENUE])
    query = embeddings.embed_query(CAT)

    assert [len(v) for v in documents] == [embedding_engine.dimension] * 2
    assert cosine(query, documents[0]) > 0.9999
    assert cosine(query, documents[1]) < 0.99
    recorded()
    assert Generation.objects.filter(kind="embeddings", status="succeeded").count() == 2


def test_it_falls_back_to_an_engine_of_the_same_model_and_dimension(api, dead_url, embed_engine,
                                                                   embedding_engine, make_engine,
                                                                   make_route, make_key):
    down = make_engine(dead_url, name="embed-down", model=embedding_engine.model,
                       capabilities=["embeddings"])
    make_route("embed", down, embed_engine)
    sdk = openai.OpenAI(base_url=api + "/v1", api_key=make_key(routes=["embed"]),
                        max_retries=0, timeout=120)

    raw = sdk.embeddings.with_raw_response.create(model="embed", input=[CAT, REVENUE])

    assert raw.headers["X-Dihya-Engine"] == "llama-embed"
    assert [len(d.embedding) for d in raw.parse().data] == [embedding_engine.dimension] * 2
    recorded()
    assert list(Attempt.objects.order_by("position").values_list("engine_name", "outcome")) == [
        ("embed-down", "connect_error"), ("llama-embed", "ok")]
    assert Route.objects.get(name="embed").embedding_dimension == embedding_engine.dimension
