"""Fixtures for the observability tests: a fake engine over real HTTP, scraping /metrics."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dihya.observability.metrics import FLUSH_SECONDS
from tests.api.conftest import api, live_server_url, make_key

__all__ = ["api", "live_server_url", "make_key"]

ANSWER = "Hello from the fake engine."
SLOW = 0.4  # seconds the fake engine thinks when a message says "slowly"


class FakeEngine(BaseHTTPRequestHandler):
    """An OpenAI-compatible engine that always answers ANSWER (streamed if asked)."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "slowly" in json.dumps(body["messages"]):
            time.sleep(SLOW)
        usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for chunk in ({"choices": [{"index": 0, "delta": {"role": "assistant",
                                                               "content": ANSWER}}]},
                          {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                          {"choices": [], "usage": usage}):
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            self.wfile.write(b"data: [DONE]\n\n")
            return
        data = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": ANSWER}}],
                           "usage": usage}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(autouse=True)
def loopback_scrapes(settings) -> None:
    """These tests scrape the in-process server from loopback without a token: let them in,
    as `make run`'s demo does (the default is to refuse)."""
    settings.DIHYA_METRICS_ALLOW_LOOPBACK = True


@pytest.fixture(scope="session")
def fake_engine() -> Iterator[str]:
    """Base URL (…/v1) of the fake engine, on loopback, for the whole session."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(base + "/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return parse(response.text)


def settled(base: str, token: str | None, name: str, labels: dict[str, str], expected: float,
            before: Samples | None = None) -> Samples:
    """Scrape until `name{labels}` has moved by `expected` since `before` and the whole page
    stands still for a flush interval: other processes write their samples every
    dihya.observability.metrics.FLUSH_SECONDS."""
    def moved(samples: Samples) -> float:
        return value(samples, name, **labels) - (value(before, name, **labels) if before else 0)

    deadline = time.monotonic() + 10
    last = scrape(base, token)
    while time.monotonic() < deadline:
        time.sleep(FLUSH_SECONDS * 1.5)
        now = scrape(base, token)
        if moved(now) == expected and now == last:
            return now
        last = now
    return last  # the caller's assertions say what is missing


def parse(text: str) -> Samples:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)
