"""The Mistral provider against Mistral's documented API (OpenAI-like, with its differences)."""

from __future__ import annotations

import httpx

from fallbacks.errors import Failure
from fallbacks.policy import DEFAULT, Action
from fallbacks.spec import ChatRequest, Message, Usage
from tests.providers.fakes import (
    Fake,
    answer,
    collect,
    complete,
    failure_of,
    fixture,
    run,
    streamed,
)


def test_it_returns_text_finish_reason_and_usage():
    fake = Fake(answer(200, fixture("mistral_completion.json")))
    completion = complete(fake.provider("mistral"))
    assert completion.text == "Coca-Cola is a carbonated soft drink."
    assert completion.finish_reason == "length"
    assert completion.usage == Usage(prompt_tokens=34, completion_tokens=100)


def test_it_posts_mistrals_request_body_with_the_key():
    fake = Fake(answer(200, fixture("mistral_completion.json")))
    request = ChatRequest(messages=(Message("user", "Hi"),), max_tokens=16, seed=7)
    complete(fake.provider("mistral"), request)
    sent = fake.requests[0]
    assert str(sent.url) == "https://api.mistral.test/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert fake.body == {"model": "test-model", "messages": [{"role": "user", "content": "Hi"}],
                         "max_tokens": 16, "stream": False, "random_seed": 7}


def test_it_does_not_double_the_v1_prefix():
    fake = Fake(answer(200, fixture("mistral_completion.json")))
    complete(fake.provider("mistral", base_url="https://api.mistral.test/v1/"))
    assert str(fake.requests[0].url) == "https://api.mistral.test/v1/chat/completions"


def test_it_streams_deltas_with_usage_on_the_last_chunk():
    fake = Fake(streamed([fixture("mistral_stream.sse").encode()]))
    deltas = collect(fake.provider("mistral"))
    assert "".join(d.text for d in deltas) == "Bonjour !"
    assert deltas[-1].finish_reason == "stop"
    assert deltas[-1].usage == Usage(prompt_tokens=7, completion_tokens=3)
    assert fake.body["stream"] is True
    assert "stream_options" not in fake.body  # not in Mistral's request schema


def test_it_fails_a_stream_that_ends_without_done():
    raw = fixture("mistral_stream.sse").split("data: [DONE]")[0].encode()
    assert failure_of(lambda: collect(Fake(streamed([raw])).provider("mistral"))).failure \
        == Failure.CONNECT


def test_it_is_not_configured_without_a_key_and_calls_nothing():
    fake = Fake(answer(200, fixture("mistral_completion.json")))
    provider = fake.provider("mistral", api_key="")
    for call in (lambda: complete(provider), lambda: collect(provider),
                 lambda: run(provider.probe())):
        assert failure_of(call).failure == Failure.NOT_CONFIGURED
    assert fake.requests == []


def test_it_probes_the_models_list_with_the_key():
    fake = Fake(answer(200, '{"object": "list", "data": []}'))
    run(fake.provider("mistral").probe())
    assert str(fake.requests[0].url) == "https://api.mistral.test/v1/models"
    assert fake.requests[0].headers["authorization"] == "Bearer sk-test"


def test_it_reports_a_wrong_key_as_auth():
    fake = Fake(answer(401, fixture("mistral_unauthorized.json")))
    error = failure_of(lambda: complete(fake.provider("mistral")))
    assert error.failure == Failure.AUTH
    assert error.status == 401
    assert "Unauthorized" in error.detail


def test_it_treats_an_unknown_model_as_an_engine_fault_not_a_bad_request():
    # A bad request stops the whole route; a misconfigured engine must only be skipped.
    fake = Fake(answer(400, fixture("mistral_invalid_model.json")))
    error = failure_of(lambda: complete(fake.provider("mistral")))
    assert error.failure == Failure.SERVER
    assert DEFAULT.action(error.failure, 0) is not Action.STOP  # the route moves on


def test_it_reports_a_mid_stream_read_error_as_connect():
    first = fixture("mistral_stream.sse").split("\n\n")[1].encode() + b"\n\n"
    fake = Fake(streamed([first], then=httpx.ReadError("connection reset by peer")))
    assert failure_of(lambda: collect(fake.provider("mistral"))).failure == Failure.CONNECT
