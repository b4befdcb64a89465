"""A loopback HTTP server that writes down what a coding agent sends, and answers just enough.

Run by hand to learn an agent's wire (which requests, in which order, with which fields):
`python -m tests.agents.recorder OUT.jsonl` prints its port; point the agent's base URL at it.
Each request becomes one JSON line: method, path, query, headers (credentials redacted) and
the JSON body. Answers are the smallest plausible ones of each dialect: OpenAI Responses for
`/v1/responses`, Anthropic Messages for `/v1/messages`, chat completions for the rest. With
`--tool NAME=JSON`, a first turn with no tool result in it is answered with that tool call,
so the agent's next request shows how it sends a tool's output back. With `--upstream URL`
it answers nothing itself: it relays to URL (a live Dihya) and writes down each answer too.
"""

from __future__ import annotations

import argparse
import http.server
import json
import sys
import threading
import time
import urllib.parse
from typing import Any

import httpx

SECRET_HEADERS = {"authorization", "x-api-key", "api-key", "cookie", "proxy-authorization"}


def redact(headers: dict[str, str]) -> dict[str, str]:
    return {k: (v[:12] + "…" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def events(pairs: list[tuple[str | None, dict[str, Any]]]) -> bytes:
    out = []
    for name, data in pairs:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {json.dumps(data)}\n\n")
    return "".join(out).encode()


def has_tool_result(body: dict[str, Any]) -> bool:
    text = json.dumps(body.get("input") or body.get("messages") or [])
    return any(k in text for k in ('"function_call_output"', '"custom_tool_call_output"',
                                   '"tool_result"', '"role": "tool"'))


def responses_reply(body: dict[str, Any], tool: tuple[str, Any] | None) -> bytes:
    rid, model = f"resp_{int(time.time() * 1000)}", body.get("model", "m")
    if tool and isinstance(tool[1], str):  # a freeform (custom) tool takes raw text
        item: dict[str, Any] = {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_1",
                                "name": tool[0], "input": tool[1], "status": "completed"}
    elif tool:
        item = {"type": "function_call", "id": "fc_1", "call_id": "call_1",
                "name": tool[0], "arguments": json.dumps(tool[1]), "status": "completed"}
    else:
        item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": "Done.", "annotations": []}]}
    base = {"id": rid, "object": "response", "created_at": int(time.time()), "model": model,
            "status": "in_progress", "output": []}
    usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": 12}
    pairs: list[tuple[str | None, dict[str, Any]]] = [
        ("response.created", {"type": "response.created", "response": base}),
        ("response.output_item.added", {"type": "response.output_item.added",
                                        "output_index": 0, "item": {**item, "status":
                                                                    "in_progress"}}),
    ]
    if not tool:
        pairs.append(("response.output_text.delta", {
            "type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "delta": "Done."}))
    pairs += [
        ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0,
                                       "item": item}),
        ("response.completed", {"type": "response.completed", "response": {
            **base, "status": "completed", "output": [item], "usage": usage}}),
    ]
    return events(pairs)


def messages_reply(body: dict[str, Any], tool: tuple[str, dict[str, Any]] | None,
                   stream: bool) -> tuple[str, bytes]:
    model = body.get("model", "m")
    block: dict[str, Any] = ({"type": "tool_use", "id": "toolu_1", "name": tool[0],
                              "input": tool[1]} if tool else {"type": "text", "text": "Done."})
    stop = "tool_use" if tool else "end_turn"
    usage = {"input_tokens": 10, "output_tokens": 2, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 0}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": model,
               "content": [block], "stop_reason": stop, "stop_sequence": None, "usage": usage}
    if not stream:
        return "application/json", json.dumps(message).encode()
    start = {**block, "input": {}} if tool else {"type": "text", "text": ""}
    delta = ({"type": "input_json_delta", "partial_json": json.dumps(tool[1])} if tool
             else {"type": "text_delta", "text": "Done."})
    return "text/event-stream", events([
        ("message_start", {"type": "message_start", "message": {
            **message, "content": [], "stop_reason": None,
            "usage": {**usage, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": start}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop,
                                                              "stop_sequence": None},
                           "usage": {"output_tokens": 2}}),
        ("message_stop", {"type": "message_stop"}),
    ])


def relay(upstream: str, method: str, target: str, headers: dict[str, str],
          raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send the request on to `upstream` (e.g. a live Dihya) and read its whole answer."""
    skip = {"host", "content-length", "accept-encoding", "connection"}
    answer = httpx.request(method, upstream.rstrip("/") + target, content=raw or None,
                           headers={k: v for k, v in headers.items() if k.lower() not in skip},
                           timeout=120)
    hop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
    return answer.status_code, {k: v for k, v in answer.headers.items()
                                if k.lower() not in hop}, answer.content


def serve(out_path: str, port: int = 0,
          tools: dict[str, tuple[str, Any]] | None = None,
          upstream: str | None = None) -> http.server.ThreadingHTTPServer:
    """`tools` maps a dialect ("responses", "messages") to the tool call of its first turn.
    With `upstream`, requests go on to it and its answers are written down too."""
    lock = threading.Lock()
    tools = tools or {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_any(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = {"_raw": raw[:2000].decode(errors="replace")}
            seen: dict[str, Any] = {"t": time.time(), "method": self.command,
                                    "path": url.path, "query": url.query,
                                    "headers": redact(dict(self.headers)), "body": body}
            status = 200
            if upstream:
                status, headers, data = relay(upstream, self.command, self.path,
                                              dict(self.headers), raw)
                seen["answer"] = {"status": status, "headers": headers,
                                  "body": data[:20000].decode(errors="replace")}
            else:
                kind, data = self.answer(url.path, body if isinstance(body, dict) else {})
                headers = {"content-type": kind}
            with lock, open(out_path, "a") as out:
                out.write(json.dumps(seen) + "\n")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def answer(self, path: str, body: dict[str, Any]) -> tuple[str, bytes]:
            first = not has_tool_result(body)
            if path.endswith("/responses"):
                tool = tools.get("responses") if first else None
                return "text/event-stream", responses_reply(body, tool)
            if path.endswith("/messages/count_tokens"):
                return "application/json", b'{"input_tokens": 10}'
            if path.endswith("/messages"):
                tool = tools.get("messages") if first else None
                return messages_reply(body, tool, bool(body.get("stream")))
            if path.endswith("/models"):
                return "application/json", json.dumps({"object": "list", "data": [
                    {"id": "gpt-5-codex", "object": "model", "owned_by": "dihya"}]}).encode()
            return "application/json", b"{}"

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = handle_any

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--upstream", help="relay to this base URL (e.g. a live Dihya) and "
                        "write its answers down too, instead of answering")
    parser.add_argument("--tool", action="append", default=[],
                        help="DIALECT:NAME=JSON, e.g. messages:Bash={\"command\": \"ls\"}")
    args = parser.parse_args()
    tools = {}
    for spec in args.tool:
        dialect, rest = spec.split(":", 1)
        name, arguments = rest.split("=", 1)
        tools[dialect] = (name, json.loads(arguments) if arguments[:1] in "{[" else arguments)
    server = serve(args.out, args.port, tools, args.upstream)
    print(server.server_address[1], flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
