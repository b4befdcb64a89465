"""An OpenAI-compatible engine that streams its answer slowly, on a local port.

For what happens while a stream is still being relayed: a client that goes away after the
first deltas, an engine that dies mid-stream. Each chunk leaves `pause` seconds after the
one before; with `die` the connection is cut after the content, before the last chunk.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import free_port

WORDS = ["Once ", "upon ", "a ", "time ", "there ", "was ", "a ", "gateway."]


@dataclass
class SlowEngine:
    url: str
    pause: float = 0.3
    die: bool = False  # cut the connection after the content, before the last chunk
    words: tuple[str, ...] = tuple(WORDS)


def chunk(delta: dict[str, Any], finish_reason: str | None = None,
          usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {"id": "chatcmpl-slow", "object": "chat.completion.chunk",
                            "created": 1, "model": "slow",
                            "choices": [{"index": 0, "delta": delta,
                                         "finish_reason": finish_reason}]}
    if usage:
        body["usage"] = usage
    return f"data: {json.dumps(body)}\n\n".encode()


@pytest.fixture
def slow_engine() -> Iterator[SlowEngine]:
    port = free_port()
    engine = SlowEngine(url=f"http://127.0.0.1:{port}/v1")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the stream ends when the connection closes

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            try:
                for n, word in enumerate(engine.words):
                    delta = {"role": "assistant", "content": word} if n == 0 else {
                        "content": word}
                    self.wfile.write(chunk(delta))
                    self.wfile.flush()
                    time.sleep(engine.pause)
                if engine.die:
                    return
                self.wfile.write(chunk({}, "stop", {"prompt_tokens": 9,
                                                    "completion_tokens": len(engine.words),
                                                    "total_tokens": 9 + len(engine.words)}))
                self.wfile.write(b"data: [DONE]\n\n")
            except (BrokenPipeError, ConnectionResetError):
                return

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield engine
    server.shutdown()
    server.server_close()
