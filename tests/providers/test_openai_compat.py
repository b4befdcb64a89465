"""The OpenAI-compatible provider against OpenAI's documented chat-completions format."""

from __future__ import annotations

import json

import httpx

from fallbacks.errors import Failure
from fallbacks.spec import ChatRequest, Message, Usage
from tests.providers.fakes import (
    REQUEST,
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
    fake = Fake(answer(200, fixture("openai_completion.json")))
    completion = complete(fake.provider("openai"))
    assert completion.text == "This is a test!"
    assert completion.finish_reason == "stop"
    assert completion.usage == Usage(prompt_tokens=13, completion_tokens=5)
    assert completion.engine == "openai-engine"


def test_it_posts_the_documented_request_body():
    fake = Fake(answer(200, fixture("openai_completion.json")))
    request = ChatRequest(messages=(Message("user", "Hi"),), max_tokens=16, temperature=0.2,
                          top_p=0.9, stop=("\n",), seed=7)
    complete(fake.provider("openai"), request)
    sent = fake.requests[0]
    assert sent.method == "POST"
    assert str(sent.url) == "http://engine.test/v1/chat/completions"
    assert fake.body == {
        "model": "test-model", "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 16, "stream": False, "temperature": 0.2, "top_p": 0.9, "seed": 7,
        "stop": ["\n"],
    }
    assert "authorization" not in sent.headers  # no key configured: none sent


def test_it_sends_the_key_as_a_bearer_token():
    fake = Fake(answer(200, fixture("openai_completion.json")))
    complete(fake.provider("openai", api_key="sk-secret"))
    assert fake.requests[0].headers["authorization"] == "Bearer sk-secret"


def test_it_streams_deltas_then_finish_reason_then_usage():
    fake = Fake(streamed([fixture("openai_stream.sse").encode()]))
    deltas = collect(fake.provider("openai"))
    assert "".join(d.text for d in deltas) == "Hello there"
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["length"]
    assert deltas[-1].usage == Usage(prompt_tokens=9, completion_tokens=2)
    assert all(d.text or d.finish_reason or d.usage for d in deltas)  # no empty role chunk


def test_it_asks_for_the_usage_chunk_when_streaming():
    fake = Fake(streamed([fixture("openai_stream.sse").encode()]))
    collect(fake.provider("openai"))
    assert fake.body["stream"] is True
    assert fake.body["stream_options"] == {"include_usage": True}
    assert fake.body["max_tokens"] == REQUEST.max_tokens


def test_it_reads_sse_split_across_network_reads():
    raw = fixture("openai_stream.sse").encode()
    pieces = [raw[i:i + 7] for i in range(0, len(raw), 7)]
    deltas = collect(Fake(streamed(pieces)).provider("openai"))
    assert "".join(d.text for d in deltas) == "Hello there"


def test_it_fails_a_stream_that_ends_without_done():
    raw = fixture("openai_stream.sse").split("data: [DONE]")[0].encode()
    error = failure_of(lambda: collect(Fake(streamed([raw])).provider("openai")))
    assert error.failure == Failure.CONNECT
    assert "[DONE]" in error.detail


def test_it_fails_a_stream_whose_connection_dies_mid_way():
    first = fixture("openai_stream.sse").split("\n\n")[1].encode() + b"\n\n"
    fake = Fake(streamed([first], then=httpx.RemoteProtocolError("peer closed connection")))
    received = []

    async def consume():
        async for delta in fake.provider("openai").stream(REQUEST):
            received.append(delta)

    error = failure_of(lambda: run(consume()))
    assert error.failure == Failure.CONNECT
    assert [d.text for d in received] == ["Hello"]  # what came before the cut was delivered


def test_it_raises_an_in_band_stream_error():
    # vLLM's streaming error envelope: a data line holding an error object with a status code.
    body = ('data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
            'data: {"error": {"object": "error", "message": "This model\'s maximum context '
            'length is 2048 tokens", "type": "BadRequestError", "code": 400}}\n\n')
    error = failure_of(lambda: collect(Fake(streamed([body.encode()])).provider("openai")))
    assert error.failure == Failure.CONTEXT_TOO_LONG


def test_it_raises_an_in_band_error_without_status_as_a_server_fault():
    body = 'data: {"error": {"message": "CUDA out of memory"}}\n\n'
    error = failure_of(lambda: collect(Fake(streamed([body.encode()])).provider("openai")))
    assert error.failure == Failure.SERVER
    assert "CUDA out of memory" in error.detail


def test_it_raises_an_error_object_inside_a_200_answer():
    body = json.dumps({"error": {"message": "model crashed", "type": "server_error"}})
    error = failure_of(lambda: complete(Fake(answer(200, body)).provider("openai")))
    assert error.failure == Failure.SERVER


def test_it_accepts_a_whole_answer_when_the_server_ignores_stream():
    fake = Fake(answer(200, fixture("openai_completion.json")))
    deltas = collect(fake.provider("openai"))
    assert [d.text for d in deltas] == ["This is a test!"]
    assert deltas[0].finish_reason == "stop"
    assert deltas[0].usage == Usage(13, 5)


def test_it_rejects_garbage_sse_chunks():
    error = failure_of(lambda: collect(Fake(streamed([b"data: {not json\n\n"])).provider("openai")))
    assert error.failure == Failure.BAD_RESPONSE
    error = failure_of(lambda: collect(Fake(streamed([b"data: [1, 2]\n\n"])).provider("openai")))
    assert error.failure == Failure.BAD_RESPONSE
    bad_delta = b'data: {"choices": [{"delta": "text"}]}\n\n'
    error = failure_of(lambda: collect(Fake(streamed([bad_delta])).provider("openai")))
    assert error.failure == Failure.BAD_RESPONSE


def test_it_rejects_answers_without_a_message():
    for body in ('{"choices": []}', '{"choices": [{"message": null}]}', '[]', '"hi"',
                 '{"choices": [{"message": {"content": 42}}]}'):
        error = failure_of(lambda b=body: complete(Fake(answer(200, b)).provider("openai")))
        assert error.failure == Failure.BAD_RESPONSE, body


def test_it_reads_content_given_as_typed_parts():
    body = {"choices": [{"message": {"content": [{"type": "text", "text": "Hel"},
                                                  {"type": "thinking", "thinking": "…"},
                                                  {"type": "text", "text": "lo"}]},
                         "finish_reason": "stop"}]}
    completion = complete(Fake(answer(200, json.dumps(body))).provider("openai"))
    assert completion.text == "Hello"
    assert completion.usage == Usage()  # no usage in the answer: zero, not a failure


def test_it_probes_the_models_list():
    fake = Fake(answer(200, '{"object": "list", "data": []}'))
    run(fake.provider("openai").probe())
    assert str(fake.requests[0].url) == "http://engine.test/v1/models"
    assert fake.requests[0].method == "GET"


def test_it_fails_the_probe_of_a_loading_llamacpp_server():
    fake = Fake(answer(503, fixture("llamacpp_loading.json")))
    error = failure_of(lambda: run(fake.provider("openai").probe()))
    assert error.failure == Failure.SERVER
    assert "Loading model" in error.detail
