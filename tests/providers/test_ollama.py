"""The Ollama provider against Ollama's documented native API (/api/chat, NDJSON)."""

from __future__ import annotations

from fallbacks.errors import Failure
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

NDJSON = "application/x-ndjson"


def test_it_returns_text_finish_reason_and_usage():
    completion = complete(Fake(answer(200, fixture("ollama_chat.json"))).provider("ollama"))
    assert completion.text == "Hello! How are you today?"
    assert completion.finish_reason == "stop"
    assert completion.usage == Usage(prompt_tokens=26, completion_tokens=298)


def test_it_maps_done_reason_length_to_length():
    body = fixture("ollama_chat.json").replace('"done_reason": "stop"', '"done_reason": "length"')
    assert complete(Fake(answer(200, body)).provider("ollama")).finish_reason == "length"


def test_it_posts_the_documented_request_body():
    fake = Fake(answer(200, fixture("ollama_chat.json")))
    request = ChatRequest(messages=(Message("user", "Hi"),), max_tokens=16, temperature=0.2,
                          top_p=0.9, stop=("\n",), seed=7)
    complete(fake.provider("ollama"), request)
    assert str(fake.requests[0].url) == "http://engine.test/api/chat"
    assert fake.body == {
        "model": "test-model", "messages": [{"role": "user", "content": "Hi"}],
        "stream": False,
        "options": {"num_predict": 16, "temperature": 0.2, "top_p": 0.9, "seed": 7,
                    "stop": ["\n"]},
    }


def test_it_streams_ndjson_until_done():
    fake = Fake(streamed([fixture("ollama_stream.ndjson").encode()], content_type=NDJSON))
    deltas = collect(fake.provider("ollama"))
    assert "".join(d.text for d in deltas) == "The sky is blue"
    assert deltas[-1].finish_reason == "length"
    assert deltas[-1].usage == Usage(prompt_tokens=26, completion_tokens=282)
    assert fake.body["stream"] is True


def test_it_fails_a_stream_that_ends_before_done():
    lines = fixture("ollama_stream.ndjson").splitlines(keepends=True)[:-1]
    fake = Fake(streamed([line.encode() for line in lines], content_type=NDJSON))
    error = failure_of(lambda: collect(fake.provider("ollama")))
    assert error.failure == Failure.CONNECT


def test_it_raises_an_error_line_sent_mid_stream():
    fake = Fake(streamed([fixture("ollama_stream_error.ndjson").encode()], content_type=NDJSON))
    error = failure_of(lambda: collect(fake.provider("ollama")))
    assert error.failure == Failure.SERVER
    assert "error was encountered while running the model" in error.detail


def test_it_raises_an_error_object_inside_a_200_answer():
    fake = Fake(answer(200, '{"error": "failed to load model: out of memory"}'))
    assert failure_of(lambda: complete(fake.provider("ollama"))).failure == Failure.SERVER


def test_it_rejects_garbage():
    for body in ("<html>oops</html>", "[]", '{"done": true, "message": "text"}', '{"done": true}'):
        error = failure_of(lambda b=body: complete(Fake(answer(200, b)).provider("ollama")))
        assert error.failure == Failure.BAD_RESPONSE, body
    fake = Fake(streamed([b'{"message": {"content": "a"}, "done": false}\nnot json\n'],
                         content_type=NDJSON))
    assert failure_of(lambda: collect(fake.provider("ollama"))).failure == Failure.BAD_RESPONSE


def test_it_probes_the_version_endpoint():
    fake = Fake(answer(200, '{"version": "0.12.6"}'))
    run(fake.provider("ollama").probe())
    assert str(fake.requests[0].url) == "http://engine.test/api/version"
