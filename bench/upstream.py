"""A fake OpenAI-compatible engine, as fast as we can make it, for measuring the gateway alone.

Raw asyncio (no framework) so that its own cost is small next to the gateway's. The first path
segment picks the behaviour, so one process serves every engine of the benchmark:

    /ok/v1/chat/completions      a fixed reply with usage (streamed with `stream: true`)
    /exact/v1/…                  usage equal to Dihya's estimate (chars / 4 + max_tokens), so
                                 reservation and settlement agree and a token budget is exact
    /e500/v1/…, /e429/v1/…       HTTP 500 / 429 with an OpenAI error body
    /hang/v1/…                   reads the request and never answers
    /long/v1/…                   a long stream: LONG_CHUNKS content chunks LONG_GAP_S apart,
                                 on a fixed schedule from the first (issue 28's measure)

`--latency MS` delays every answer (and each streamed chunk's first byte) by MS milliseconds.
Run: `python -m bench.upstream --port 9100 [--latency 0]`. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math

REPLY = "Hello from the fake engine."
WORDS = ["Hello", " from", " the", " fake", " engine", "."]
LONG_CHUNKS = 40
LONG_GAP_S = 0.05
LONG_WORDS = [f" w{i}" for i in range(LONG_CHUNKS)]
LONG_REPLY = "".join(LONG_WORDS)


def usage_for(mode: str, body: dict) -> dict[str, int]:
    if mode == "exact":
        chars = sum(len(str(m.get("content", ""))) + len(m.get("role", ""))
                    for m in body.get("messages", []))
        prompt, completion = math.ceil(chars / 4), int(body.get("max_tokens") or 0)
    else:
        prompt, completion = 12, 7
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def response(status: int, payload: bytes, ctype: str = "application/json",
             extra: str = "") -> bytes:
    reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests",
              500: "Internal Server Error"}.get(status, "OK")
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: {ctype}\r\n"
            f"content-length: {len(payload)}\r\n{extra}\r\n").encode() + payload


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class Engine:
    def __init__(self, latency_ms: float) -> None:
        self.delay = latency_ms / 1000

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                raw = await reader.readexactly(length) if length else b""
                if not await self.answer(method, path, raw, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def answer(self, method: str, path: str, raw: bytes,
                     writer: asyncio.StreamWriter) -> bool:
        mode = path.strip("/").split("/", 1)[0]
        if path.endswith("/models") or path.endswith("/health"):
            writer.write(response(200, b'{"object":"list","data":[{"id":"fake"}]}'))
            return True
        if mode == "hang":
            await asyncio.sleep(3600)
            return False
        if self.delay:
            await asyncio.sleep(self.delay)
        if mode in ("e500", "e429"):
            status = 500 if mode == "e500" else 429
            body = json.dumps({"error": {"message": f"fake {status}", "type": "server_error",
                                         "code": None}}).encode()
            writer.write(response(status, body, extra="retry-after: 30\r\n"
                                  if status == 429 else ""))
            return True
        body = json.loads(raw or b"{}")
        usage = usage_for(mode, body)
        if body.get("stream"):
            if mode == "long":
                await self.long_stream(writer, usage)
            else:
                await self.stream(writer, usage)
            return True
        payload = json.dumps({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY},
                         "finish_reason": "stop"}],
            "usage": usage}, separators=(",", ":")).encode()
        writer.write(response(200, payload))
        await writer.drain()
        return True

    async def stream(self, writer: asyncio.StreamWriter, usage: dict[str, int]) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                "model": "fake"}
        for i, word in enumerate(WORDS):
            delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
            data = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            writer.write(chunk(b"data: " + json.dumps(data).encode() + b"\n\n"))
            await writer.drain()
        end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        writer.write(chunk(b"data: " + json.dumps(end).encode() + b"\n\n"))
        writer.write(chunk(b"data: " + json.dumps({**base, "choices": [], "usage": usage})
                           .encode() + b"\n\n"))
        writer.write(chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        await writer.drain()

    async def long_stream(self, writer: asyncio.StreamWriter, usage: dict[str, int]) -> None:
        """LONG_CHUNKS chunks, the i-th at i * LONG_GAP_S after the first: a late write does
        not push the later ones back, so what the client sees late is the gateway's doing.
        The chunks are serialised before the first is sent."""
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                "model": "fake"}
        chunks = [chunk(b"data: " + json.dumps({**base, "choices": [{
            "index": 0, "delta": {"role": "assistant", "content": word} if i == 0 else
            {"content": word}, "finish_reason": None}]}).encode() + b"\n\n")
            for i, word in enumerate(LONG_WORDS)]
        end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        tail = (chunk(b"data: " + json.dumps(end).encode() + b"\n\n")
                + chunk(b"data: " + json.dumps({**base, "choices": [], "usage": usage}).encode()
                        + b"\n\n") + chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        loop = asyncio.get_running_loop()
        start = loop.time()
        for i, data in enumerate(chunks):
            if (wait := start + i * LONG_GAP_S - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.write(tail)
        await writer.drain()


async def main(port: int, latency: float) -> None:
    engine = Engine(latency)
    server = await asyncio.start_server(engine.serve, "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="milliseconds per answer")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(args.port, args.latency))
    else:
        uvloop.run(main(args.port, args.latency))
