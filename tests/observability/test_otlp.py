"""Traces reach an OTLP/HTTP receiver when OTEL_EXPORTER_OTLP_ENDPOINT is set: a uvicorn
child process exports to a small receiver of ours on loopback, which parses the protobuf."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from dihya.gateway.models import Generation
from tests.conftest import Process, child_env, free_port, wait_until

MARKER = "Zq7-otlp-marker"


class Receiver(BaseHTTPRequestHandler):
    spans: list[tuple[str, Span]] = []  # (service.name, span)

    def do_POST(self) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource_spans in request.resource_spans:
            service = next((a.value.string_value for a in resource_spans.resource.attributes
                            if a.key == "service.name"), "")
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend((service, s) for s in scope_spans.spans)
        body = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[list[tuple[str, Span]]]:
    Receiver.spans = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield_url = f"http://127.0.0.1:{server.server_address[1]}"
    Receiver.url = yield_url  # type: ignore[attr-defined]
    yield Receiver.spans
    server.shutdown()


@pytest.fixture
def traced_gateway(transactional_db, receiver, tmp_path) -> Iterator[str]:
    port = free_port()
    env = child_env(OTEL_EXPORTER_OTLP_ENDPOINT=Receiver.url,  # type: ignore[attr-defined]
                    OTEL_SERVICE_NAME="dihya-test", OTEL_BSP_SCHEDULE_DELAY="100",
                    DIHYA_KEY_CACHE_SECONDS="0")
    process = Process([sys.executable, "-m", "uvicorn", "dihya.asgi:application", "--port",
                       str(port), "--log-level", "warning"], env=env, log=tmp_path / "web.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(url + "/metrics", timeout=1).status_code, timeout=30,
                   what="uvicorn")
        yield url
    finally:
        process.stop()
        print(process.output()[-3000:])


def test_spans_reach_the_receiver(traced_gateway, receiver, fake_engine, make_engine,
                                  make_route, make_key):
    make_route("default", make_engine(fake_engine, name="fake", model="small-model"),
               max_tokens=16)
    key = make_key()

    answer = httpx.post(traced_gateway + "/v1/chat/completions", timeout=30,
                        headers={"Authorization": f"Bearer {key}"},
                        json={"model": "default", "max_tokens": 8, "user": f"person-{MARKER}",
                              "messages": [{"role": "user", "content": MARKER}]})

    assert answer.status_code == 200, answer.text
    trace_id = answer.headers["X-Dihya-Trace"]
    assert Generation.objects.get().trace_id == trace_id
    wait_until(lambda: {Span.SPAN_KIND_SERVER, Span.SPAN_KIND_INTERNAL} <= {
        s.kind for _, s in receiver if s.trace_id.hex() == trace_id}, timeout=15,
        what="the request's and the generation's spans")
    ours = {s.name: s for service, s in receiver if s.trace_id.hex() == trace_id
            and service == "dihya-test"}
    generation_span, attempt = ours["chat default"], ours["chat small-model"]
    request_span = next(s for s in ours.values() if s.kind == Span.SPAN_KIND_SERVER)
    assert request_span.name.startswith("POST")  # the Django instrumentation's span
    assert generation_span.parent_span_id == request_span.span_id
    assert attempt.parent_span_id == generation_span.span_id
    assert any(s.kind == Span.SPAN_KIND_CLIENT and s.name == "POST" for s in ours.values()), \
        "the httpx instrumentation's span of the engine call"
    attributes = {a.key: a.value for a in generation_span.attributes}
    assert attributes["gen_ai.usage.output_tokens"].int_value == 5
    assert MARKER not in repr([(s.name, s.attributes, s.events) for _, s in receiver])


def test_request_spans_carry_route_templates_never_tokens_or_ids(traced_gateway, receiver,
                                                                  make_key):
    key = make_key()
    headers = {"Authorization": f"Bearer {key}"}

    httpx.get(f"{traced_gateway}/privacy/link/{MARKER}-token/", timeout=30)
    httpx.get(f"{traced_gateway}/api/v1/consents?user={MARKER}", headers=headers, timeout=30)
    httpx.post(f"{traced_gateway}/api/v1/people/{MARKER}/export", headers=headers, timeout=30)

    def server_spans() -> list[Span]:
        return [s for service, s in receiver
                if service == "dihya-test" and s.kind == Span.SPAN_KIND_SERVER]

    def paths() -> set[str]:
        return {a.value.string_value for s in server_spans() for a in s.attributes
                if a.key in ("url.path", "http.target")}

    wait_until(lambda: len(paths() - {"/metrics"}) >= 3, timeout=15,
               what="the three request spans")
    assert MARKER not in repr([(s.name, s.attributes, s.events) for _, s in receiver])
    assert "/privacy/link/<str:token>/" in paths()
    assert any("people/<user>/export" in p or "people/{user}/export" in p for p in paths())
