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
    #: Every byte of every request body it was sent, as received.
    received: bytearray = field(default_factory=bytearray)

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
            raw = self.rfile.read(length)
            engine.received += raw
            engine.requests.append(json.loads(raw or b"{}"))
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


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """One tool call of an answer, in the chat-completions wire format."""
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": arguments}}


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1,
            "model": "fake", "choices": [{"index": 0, "delta": delta,
                                          "finish_reason": finish_reason}]}


def usage_chunk(prompt: int = 12, completion: int = 5) -> dict[str, Any]:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1,
            "model": "fake", "choices": [], "usage": {
                "prompt_tokens": prompt, "completion_tokens": completion,
                "total_tokens": prompt + completion}}


def text_stream(*pieces: str, finish_reason: str = "stop") -> str:
    """An answer streamed as chat-completion chunks: role, pieces, finish, usage."""
    return sse(chunk({"role": "assistant", "content": ""}),
               *(chunk({"content": p}) for p in pieces), chunk({}, finish_reason),
               usage_chunk())


def call_stream(call_id: str, name: str, *argument_pieces: str) -> str:
    """A tool call streamed as OpenAI does: id, type and name first, then argument pieces."""
    return sse(chunk({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": call_id, "type": "function",
         "function": {"name": name, "arguments": ""}}]}),
        *(chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
          for p in argument_pieces),
        chunk({}, "tool_calls"), usage_chunk())


class Gate:
    """An engine that holds every request until opened."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.seen = 0


@pytest.fixture
def held_engine() -> Iterator[tuple[str, Gate]]:
    gate = Gate()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            gate.seen += 1
            while not gate.open.wait(0.1):
                pass
            data = json.dumps(answer("Done")).encode()
            try:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the worker that asked was killed
                pass

        def log_message(self, *args: object) -> None:
            return None

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/v1", gate
    gate.open.set()
    server.shutdown()
    server.server_close()
