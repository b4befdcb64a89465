"""Spans of a generation and its attempts, in the SDK's in-memory exporter (the live server
runs in this process)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import respx
from django.test import override_settings
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_trace_id

from dihya.gateway.models import Generation
from dihya.generation import pipeline
from dihya.generation.requests import EmbeddingBody
from dihya.observability import tracing
from tests.conftest import recorded

MARKER = "Zq7-trace-marker"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    yield exporter
    tracing.use(None)


@pytest.fixture
def route(fake_engine, dead_url, make_engine, make_route):
    return make_route("default", make_engine(dead_url, name="dead", model="big-model"),
                      make_engine(fake_engine, name="fake", model="small-model"), max_tokens=16)


def chat(api: str, key: str, content: str, **extra: object) -> httpx.Response:
    return httpx.post(api + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {key}"},
                      json={"model": "default", "messages": [{"role": "user", "content": content}],
                            "max_tokens": 8, **extra})


def everything_in(spans: tuple[ReadableSpan, ...]) -> str:
    return repr([(s.name, dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events])
                 for s in spans])


def test_it_traces_a_generation_and_its_attempts(api, route, make_key, spans):
    key = make_key()
    answer = chat(api, key, f"{MARKER} tell me", user=f"person-{MARKER}")
    recorded()  # the generation's span ends when its end is written

    assert answer.status_code == 200
    finished = spans.get_finished_spans()
    generation_span = next(s for s in finished if s.name == "chat default")
    attempts = [s for s in finished if s.parent and
                s.parent.span_id == generation_span.context.span_id]
    assert [(s.name, s.attributes["dihya.attempt.outcome"]) for s in attempts] == [
        ("chat big-model", "connect_error"), ("chat small-model", "ok")]
    assert attempts[0].attributes["error.type"] == "connect_error"
    assert attempts[1].attributes["gen_ai.request.model"] == "small-model"
    assert attempts[1].attributes["gen_ai.provider.name"] == "openai"
    assert attempts[0].start_time <= attempts[0].end_time <= attempts[1].start_time
    a = generation_span.attributes
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.request.model"] == "default"
    assert a["gen_ai.response.model"] == "small-model"
    assert a["gen_ai.usage.input_tokens"] == 7 and a["gen_ai.usage.output_tokens"] == 5
    assert a["dihya.client"] == "app" and a["dihya.status"] == "succeeded"
    g = Generation.objects.get()
    trace_id = format_trace_id(generation_span.context.trace_id)
    assert g.trace_id == trace_id
    assert a["dihya.generation.id"] == str(g.pk)
    text = everything_in(finished)
    assert MARKER not in text and "person" not in text and key not in text
    assert "gen_ai.input.messages" not in text


def test_the_answer_names_its_trace(api, route, make_key, spans):
    answer = chat(api, make_key(), "hello")
    recorded()

    assert answer.headers["X-Dihya-Trace"] == Generation.objects.get().trace_id


def test_a_stream_ends_its_span_after_the_first_token(api, route, make_key, spans):
    answer = chat(api, make_key(), "hello", stream=True)
    recorded()  # the generation's span ends when its end is written

    assert answer.status_code == 200 and "[DONE]" in answer.text
    finished = spans.get_finished_spans()
    generation_span = next(s for s in finished if s.name == "chat default")
    answered = next(s for s in finished if s.name == "chat small-model")
    assert answered.parent.span_id == generation_span.context.span_id
    assert generation_span.start_time <= answered.end_time <= generation_span.end_time


def test_a_failed_generation_is_an_error_span(api, dead_url, make_engine, make_route, make_key,
                                              spans):
    make_route("default", make_engine(dead_url, name="dead"), max_tokens=16)

    assert chat(api, make_key(), "hello").status_code == 503
    recorded()  # the generation's span ends when its end is written
    generation_span = next(s for s in spans.get_finished_spans() if s.name == "chat default")
    assert generation_span.status.status_code.name == "ERROR"
    assert generation_span.attributes["error.type"] == "all_engines_failed"


@override_settings(DIHYA_AUDIT_CONTENT=True)
def test_content_is_traced_only_redacted_when_audit_content_is_on(api, route, make_key, spans):
    assert chat(api, make_key(), "Write to alice@example.com please").status_code == 200
    recorded()  # the generation's span ends when its end is written

    generation_span = next(s for s in spans.get_finished_spans() if s.name == "chat default")
    asked = generation_span.attributes["gen_ai.input.messages"]
    assert "Write to" in asked and "please" in asked
    assert "alice@example.com" not in asked
    assert "Hello from the fake engine" in generation_span.attributes["gen_ai.output.messages"]


def test_tracing_off_costs_no_span_and_no_header(api, route, make_key):
    answer = chat(api, make_key(), "hello")
    recorded()  # the generation's span ends when its end is written

    assert answer.status_code == 200
    assert "X-Dihya-Trace" not in answer.headers
    assert Generation.objects.get().trace_id == ""
    assert float(answer.headers["X-Dihya-Overhead-Ms"]) >= 0


@override_settings(DIHYA_AUDIT_CONTENT=True)
def test_embeddings_are_traced_as_embeddings_with_their_inputs_redacted(db, make_engine,
                                                                        make_route, spans):
    make_route("embed", make_engine("http://embed.test/v1", name="embedder", model="e5",
                                    capabilities=["embeddings"]))
    admission = pipeline.admit(pipeline.Caller(client=None), EmbeddingBody(
        model="embed", input=["Write to alice@example.com please", "second"]))
    with respx.mock:
        respx.post("http://embed.test/v1/embeddings").mock(httpx.Response(200, json={
            "data": [{"index": i, "embedding": [0.5, 0.25]} for i in range(2)],
            "usage": {"prompt_tokens": 11, "total_tokens": 11}}))
        pipeline.record(admission, asyncio.run(pipeline.execute(admission)))

    finished = spans.get_finished_spans()
    generation_span = next(s for s in finished if s.name == "embeddings embed")
    a = generation_span.attributes
    assert (a["gen_ai.operation.name"], a["gen_ai.usage.input_tokens"]) == ("embeddings", 11)
    assert "gen_ai.request.max_tokens" not in a
    asked = a["gen_ai.input.messages"]
    assert "Write to" in asked and "second" in asked and "alice@example.com" not in asked
    assert [s.name for s in finished if s.parent] == ["embeddings e5"]
