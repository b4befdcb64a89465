"""An OpenAI-compatible engine that plays one agent turn: a tool call, then a final answer.

A coding agent loops until the model stops calling tools, so a canned reply queue would have
to guess how many requests the agent makes. This engine answers by what it is sent instead:
while no tool result is in the messages it calls the scripted tool; once one is (a `tool`
message), or when the request offers no tools at all, it answers the scripted text. Streamed
(server-sent events, closed by `data: [DONE]`, with the usage chunk when
`stream_options.include_usage` asks for it) or as one JSON body, as the request's `stream`
says, like any chat-completions server.
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

USAGE = {"prompt_tokens": 40, "completion_tokens": 8, "total_tokens": 48}


@dataclass
class Script:
    tool: str  # the function the model calls first
    arguments: dict[str, Any]
    answer: str  # the final text, once the tool's result is back
    call_id: str = "call_agent1"


@dataclass
class ScriptedEngine:
    url: str  # …/v1
    script: Script | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    def play(self, tool: str, arguments: dict[str, Any], answer: str) -> None:
        self.script = Script(tool, arguments, answer)

    def reply(self, body: dict[str, Any]) -> tuple[str, bytes]:
        """The content type and body answering a chat-completions request."""
        if self.script is None:
            raise AssertionError("the scripted engine was called with no script")
        done = not body.get("tools") or any(m.get("role") == "tool"
                                             for m in body.get("messages") or [])
        message: dict[str, Any] = {"role": "assistant", "content": self.script.answer}
        finish = "stop"
        if not done:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": self.script.call_id, "type": "function",
                "function": {"name": self.script.tool,
                             "arguments": json.dumps(self.script.arguments)}}]}
            finish = "tool_calls"
        base = {"id": f"chatcmpl-scripted{len(self.requests)}", "created": 1,
                "model": body.get("model", "scripted")}
        if not body.get("stream"):
            return "application/json", json.dumps({
                **base, "object": "chat.completion", "usage": USAGE,
                "choices": [{"index": 0, "message": message, "finish_reason": finish}]}).encode()
        chunk = {**base, "object": "chat.completion.chunk"}
        if done:
            deltas = [{"role": "assistant", "content": ""}, {"content": self.script.answer}]
        else:
            call = message["tool_calls"][0]
            deltas = [{"role": "assistant", "content": None, "tool_calls": [{
                "index": 0, "id": call["id"], "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""}}]},
                {"tool_calls": [{"index": 0, "function": {
                    "arguments": call["function"]["arguments"]}}]}]
        chunks = [{**chunk, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}
                  for d in deltas]
        chunks.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append({**chunk, "choices": [], "usage": USAGE})
        events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return "text/event-stream", events.encode()


@pytest.fixture
def scripted_engine() -> Iterator[ScriptedEngine]:
    port = free_port()
    engine = ScriptedEngine(url=f"http://127.0.0.1:{port}/v1")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            engine.requests.append(body)
            kind, data = engine.reply(body)
            self.send_response(200)
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
