"""POST /v1/embeddings through the live server and the one pipeline, on a fake
OpenAI-compatible engine (recorded answers): the answer's shape, encodings, what is recorded,
quotas, consent, key scope and route allow-list, the route's dimension, and bad input.

The real engine (llama.cpp in embedding mode) and the real clients (openai SDK, LangChain)
are in tests/api/test_embeddings_clients.py.
"""

from __future__ import annotations

import base64
import struct
from decimal import Decimal

import httpx
import pytest

from audit import consent
from dihya.gateway.models import ApiClient, Attempt, Generation
from fallbacks.models import Route
from quotas.models import Assignment, EnginePrice, Limit, Plan
from tests.api.fake_engine import fake_engine  # noqa: F401 - a fixture
from tests.conftest import recorded

VECTORS = [[0.5, -1.25, 3.0], [0.1, 0.2, 0.3]]


def embedding_answer(vectors=VECTORS, *, prompt_tokens: int = 7) -> dict:
    """What llama.cpp and vLLM answer: OpenAI's list, here with the items out of order."""
    return {"object": "list", "model": "e5",
            "data": [{"object": "embedding", "index": i, "embedding": v}
                     for i, v in reversed(list(enumerate(vectors)))],
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}


@pytest.fixture
def fake(fake_engine):  # noqa: F811
    """The fake OpenAI-compatible engine (tests/api/fake_engine.py)."""
    return fake_engine


@pytest.fixture
def embed(api, fake, make_engine, make_route):
    """Route `embed` on one fake engine that declares embeddings; returns the engine."""
    engine = make_engine(fake.url, name="fake-embed", model="e5",
                         capabilities=["embeddings"])
    make_route("embed", engine)
    return engine


def post(api: str, key: str, **body) -> httpx.Response:
    return httpx.post(api + "/v1/embeddings", headers={"Authorization": f"Bearer {key}"},
                      json={"model": "embed", **body}, timeout=30)


def test_it_answers_openais_list_in_input_order_with_the_engines_usage(api, embed, fake,
                                                                       make_key):
    fake.reply(embedding_answer())

    answer = post(api, make_key(routes=["embed"]), input=["first text", "second text"])

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "object": "list", "model": "embed",
        "data": [{"object": "embedding", "index": 0, "embedding": VECTORS[0]},
                 {"object": "embedding", "index": 1, "embedding": VECTORS[1]}],
        "usage": {"prompt_tokens": 7, "total_tokens": 7}}
    recorded()
    generation = Generation.objects.get()
    assert answer.headers["X-Dihya-Generation"] == str(generation.pk)
    assert answer.headers["X-Dihya-Engine"] == "fake-embed"
    assert float(answer.headers["X-Dihya-Overhead-Ms"]) >= 0
    assert fake.requests == [{"model": "e5", "encoding_format": "float",
                                     "input": ["first text", "second text"]}]


def test_it_records_the_call_with_its_inputs_and_not_its_vectors(api, embed, fake,
                                                                 make_key):
    fake.reply(embedding_answer())

    post(api, make_key(routes=["embed"]), input=["first text", "second text"], user="u-1")

    recorded()
    g = Generation.objects.get()
    assert (g.kind, g.status, g.source, g.stream) == ("embeddings", "succeeded", "chat", False)
    assert g.request == {"kind": "embeddings", "inputs": ["first text", "second text"],
                         "dimensions": None}
    assert g.result == "2 vectors of 3 dimensions"
    assert (g.prompt_tokens, g.completion_tokens, g.engine_name) == (7, 0, "fake-embed")
    assert g.end_user == "u-1"
    assert list(Attempt.objects.values_list("engine_name", "outcome")) == [("fake-embed", "ok")]


def test_base64_is_little_endian_float32_as_openai_encodes_it(api, embed, fake, make_key):
    fake.reply(embedding_answer())

    data = post(api, make_key(routes=["embed"]), input=["a", "b"],
                encoding_format="base64").json()["data"]

    decoded = [struct.unpack("<3f", base64.b64decode(d["embedding"])) for d in data]
    assert decoded == [tuple(struct.unpack("<3f", struct.pack("<3f", *v))) for v in VECTORS]
    assert fake.requests[0]["encoding_format"] == "float"  # we encode, not the engine


@pytest.mark.parametrize(("given", "sent"), [
    ("one text", ["one text"]),
    ([3, 1, 4], [[3, 1, 4]]),  # one token array
    ([[3, 1], [4, 1, 5]], [[3, 1], [4, 1, 5]]),
])
def test_every_form_of_input_reaches_the_engine(api, embed, fake, make_key, given, sent):
    fake.reply(embedding_answer(VECTORS[:len(sent)]))

    answer = post(api, make_key(routes=["embed"]), input=given)

    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]) == len(sent)
    assert fake.requests[0]["input"] == sent
    recorded()
    assert Generation.objects.get().request["inputs"] == sent


@pytest.mark.parametrize(("body", "param"), [
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": ["ok", ""]}, "input"),
    ({"input": [[]]}, "input"),
    ({"input": [1, "a"]}, "input"),
    ({"input": [True, 2]}, "input"),
    ({"input": [-1]}, "input"),
    ({"input": {"text": "a"}}, "input"),
    ({"input": "bad \x00 byte"}, "input"),
    ({"input": ["a", "b", "c"]}, "input"),  # more than DIHYA_MAX_EMBEDDING_INPUTS
    ({"input": "x" * 11}, "input"),  # longer than DIHYA_MAX_MESSAGE_CHARS
    ({"input": [[1, 2, 3]]}, "input"),  # 3 tokens weigh 12 characters
    ({"input": ["x" * 9, "y" * 9]}, "input"),  # more than DIHYA_MAX_TOTAL_CHARS in all
    ({}, "input"),
    ({"input": "a", "encoding_format": "hex"}, "encoding_format"),
    ({"input": "a", "dimensions": 0}, "dimensions"),
    ({"input": "a", "dimensions": "64"}, "dimensions"),
    ({"input": "a", "user": 7}, "user"),
    ({"input": "a", "model": ""}, "model"),
])
def test_bad_input_is_a_400_naming_the_field(api, embed, fake, make_key, settings, body,
                                            param):
    settings.DIHYA_MAX_EMBEDDING_INPUTS = 2
    settings.DIHYA_MAX_MESSAGE_CHARS = 10
    settings.DIHYA_MAX_TOTAL_CHARS = 16

    answer = post(api, make_key(routes=["embed"]), **body)

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and error["param"].startswith(param), error
    assert not fake.requests and not Generation.objects.exists()


def test_a_body_that_is_not_an_object_is_a_400(api, embed, make_key):
    answer = httpx.post(api + "/v1/embeddings", content=b'["a"]', timeout=30,
                        headers={"Authorization": f"Bearer {make_key(routes=['embed'])}",
                                 "Content-Type": "application/json"})

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_request"


def test_an_unknown_field_is_refused_unless_the_route_drops_it(api, embed, fake,
                                                               make_key):
    key = make_key(routes=["embed"])

    refused = post(api, key, input="a", truncate=True)

    assert refused.status_code == 400
    assert refused.json()["error"] | {"message": ""} == {
        "message": "", "type": "invalid_request_error", "param": "truncate",
        "code": "unsupported_parameter"}
    route = Route.objects.get(name="embed")
    route.drop_params = ["truncate"]
    route.save()  # as the admin does: the route snapshots are renewed
    fake.reply(embedding_answer(VECTORS[:1]))

    dropped = post(api, key, input="a", truncate=True)

    assert dropped.status_code == 200, dropped.text
    assert dropped.headers["X-Dihya-Dropped-Params"] == "truncate"
    assert "truncate" not in fake.requests[0]


def test_a_route_without_an_embedding_engine_is_a_400_naming_model(api, fake, make_engine,
                                                                   make_route, make_key):
    make_route("default", make_engine(fake.url, name="chat-only"))

    answer = post(api, make_key(), model="default", input="a")

    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_parameter", "model")
    assert "embeddings" in error["message"]
    assert not fake.requests and not Generation.objects.exists()


def test_token_arrays_no_engine_of_the_route_takes_are_a_400_naming_input(
        api, fake, make_engine, make_route, make_key):
    make_route("embed", make_engine(fake.url, name="ollama-embed", provider="ollama",
                                    model="e5", capabilities=["embeddings"]))
    key = make_key(routes=["embed"])

    answer = post(api, key, input=[[1, 2, 3]])

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_parameter", "input")
    assert not fake.requests
    recorded()
    assert Attempt.objects.get().outcome == "unsupported"


def test_the_key_needs_the_chat_scope_and_the_route(api, embed, fake, make_engine,
                                                    make_route, make_key):
    make_route("other", make_engine(fake.url, name="other", capabilities=["embeddings"]))

    not_allowed = post(api, make_key("a", routes=["embed"]), model="other", input="a")
    no_scope = post(api, make_key("b", routes=["embed"], scopes=frozenset({"jobs"})), input="a")
    unknown = post(api, make_key("c", routes=["embed"]), model="nope", input="a")

    assert (not_allowed.status_code, not_allowed.json()["error"]["code"]) == \
        (403, "route_not_allowed")
    assert (no_scope.status_code, no_scope.json()["error"]["code"]) == (403, "scope_not_allowed")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "model_not_found")
    assert not fake.requests


def test_the_route_learns_its_dimension_and_refuses_another_after(api, embed, fake,
                                                                  make_key):
    key = make_key(routes=["embed"])
    fake.reply(embedding_answer(VECTORS[:1]))
    assert post(api, key, input="a").status_code == 200
    assert Route.objects.get(name="embed").embedding_dimension == 3
    fake.reply(embedding_answer([[1.0, 2.0, 3.0, 4.0]]))

    mixed = post(api, key, input="b")

    assert mixed.status_code == 503
    assert mixed.json()["error"]["code"] == "all_engines_failed"
    recorded()
    failed = Attempt.objects.filter(generation__status="failed").get()
    assert failed.outcome == "bad_response" and "route's are 3" in failed.detail


def test_a_call_asking_its_own_dimensions_pins_nothing(api, embed, fake, make_key):
    fake.reply(embedding_answer(VECTORS[:1]))

    answer = post(api, make_key(routes=["embed"]), input="a", dimensions=3)

    assert answer.status_code == 200, answer.text
    assert fake.requests[0]["dimensions"] == 3
    assert Route.objects.get(name="embed").embedding_dimension is None


def test_dimensions_no_engine_honours_are_refused_by_name(api, embed, fake, make_key):
    fake.reply(embedding_answer(VECTORS[:1]))  # 3 floats, whatever was asked (llama.cpp)

    answer = post(api, make_key(routes=["embed"]), input="a", dimensions=2)

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_parameter", "dimensions")
    recorded()
    assert Attempt.objects.get().outcome == "unsupported"


def test_quota_is_charged_the_reported_prompt_tokens_priced_as_input(api, embed, fake,
                                                                    make_key):
    key = make_key("billing", routes=["embed"])
    plan = Plan.objects.create(name="starter")
    Limit.objects.create(plan=plan, metric="tokens", period="day", amount=10_000, hard=True)
    Limit.objects.create(plan=plan, metric="cost", period="day", amount=10**9, hard=True)
    Assignment.objects.create(plan=plan, client=ApiClient.objects.get(name="billing"))
    EnginePrice.objects.create(engine=embed, input_per_million=Decimal(1000),
                               output_per_million=Decimal(999_999))
    fake.reply(embedding_answer(prompt_tokens=41))

    answer = post(api, key, input=["a", "b"])

    assert answer.status_code == 200, answer.text
    assert answer.headers["x-ratelimit-limit-tokens"] == "10000"
    recorded()
    used = {s["metric"]: s["used"] for s in httpx.get(
        api + "/api/v1/quota", headers={"Authorization": f"Bearer {key}"}).json()["data"]}
    assert used == {"tokens": 41, "cost": 41 * 1000}


def test_quota_refuses_over_the_limit_before_any_engine_call(api, embed, fake, make_key):
    key = make_key("billing", routes=["embed"])
    plan = Plan.objects.create(name="tiny")
    Limit.objects.create(plan=plan, metric="tokens", period="day", amount=3, hard=True)
    Assignment.objects.create(plan=plan, client=ApiClient.objects.get(name="billing"))

    answer = post(api, key, input="a text of more than twelve characters")

    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "quota_exceeded"
    assert not fake.requests


def test_consent_is_required_as_for_chat(api, embed, fake, make_engine, make_route,
                                         make_key, django_user_model):
    make_route("default", make_engine(fake.url, name="chat"))
    key = make_key("helpdesk", routes=["embed", "default"])
    ApiClient.objects.filter(name="helpdesk").update(end_users=True, user_ids="username")
    alice = django_user_model.objects.create_user("alice")

    refused = post(api, key, input="about alice", user="alice")
    chat = httpx.post(api + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                      json={"model": "default", "user": "alice",
                            "messages": [{"role": "user", "content": "hi"}]}, timeout=30)

    assert refused.status_code == chat.status_code == 403
    error, chat_error = refused.json()["error"], chat.json()["error"]
    assert (error["code"], error["param"]) == (chat_error["code"], chat_error["param"]) == \
        ("consent_required", "user")
    # alice has an account this client never served: no link, she signs in (tests/people)
    assert error["consent_url"] == chat_error["consent_url"] == "/privacy/"
    assert not fake.requests and not Generation.objects.exists()
    consent.grant(alice)
    fake.reply(embedding_answer(VECTORS[:1]))

    assert post(api, key, input="about alice", user="alice").status_code == 200
    recorded()
    assert Generation.objects.get().user == alice


def test_models_show_an_embedding_route_can_embed(api, embed, make_key):
    auth = {"Authorization": f"Bearer {make_key(routes=['embed'])}"}

    listed = httpx.get(api + "/v1/models", headers=auth).json()["data"]
    one = httpx.get(api + "/v1/models/embed", headers=auth).json()

    assert [(m["id"], m["capabilities"]) for m in listed] == [("embed", ["embeddings"])]
    assert one["capabilities"] == ["embeddings"]
