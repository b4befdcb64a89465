"""A tiny OpenAI-compatible engine on a local port, answering recorded bodies.

For what SmolLM2 cannot do reliably (tool calls): the live Dihya calls it over real HTTP,
exactly as it calls llama.cpp, and the test reads what it was sent. Answers are queued per
engine (`reply`), JSON or server-sent events; with none queued it says "Hello".
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import free_port


def answer(content: str | None = "Hello", *, tool_calls: list[dict[str, Any]] | None = None,
           finish_reason: str = "stop") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1,
            "model": "fake", "choices": [{"index": 0, "message": message,
                                          "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}}


def sse(*chunks: dict[str, Any]) -> str:
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


@dataclass
class FakeEngine:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    replies: list[tuple[int, str, str]] = field(default_factory=list)

    def reply(self, body: dict[str, Any] | str, status: int = 200) -> None:
        if isinstance(body, str):
            self.replies.append((status, "text/event-stream", body))
        else:
            self.replies.append((status, "application/json", json.dumps(body)))


@pytest.fixture
def fake_engine() -> Iterator[FakeEngine]:
    port = free_port()
    engine = FakeEngine(url=f"http://127.0.0.1:{port}/v1")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            engine.requests.append(json.loads(self.rfile.read(length) or b"{}"))
            engine.paths.append(self.path)
            status, kind, body = engine.replies.pop(0) if engine.replies else (
                200, "application/json", json.dumps(answer()))
            data = body.encode()
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield engine
    server.shutdown()
    server.server_close()
