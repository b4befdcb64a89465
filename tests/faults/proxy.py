"""A fault-injecting HTTP proxy in front of a real engine, for the fault-injection suite.

One request per connection (so a change of mode applies to the very next request, whatever
the client pools). Modes:

- `pass`: relay to the upstream engine;
- `refuse`: stop listening, so connections are refused;
- `hang`: accept, read the request, never answer;
- `status`: answer `status` (with `headers`) `times` times, then relay;
- `cut`: relay, but drop the connection after `cut_after` bytes of the answer's body;
- `slow`: relay, after waiting `delay` seconds (a busy or distant engine).

It counts the requests it saw (`seen`), so tests can assert how often an engine was called.
It runs its own event loop in a daemon thread; nothing here is imported by the application.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Mode:
    name: str = "pass"
    status: int = 500
    times: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": {"message": "injected fault", "type": "server_error"}}'
    cut_after: int = 0
    delay: float = 0.0


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.up_host, self.up_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path
        self.mode = Mode()
        self.seen = 0
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.hanging: list[asyncio.StreamWriter] = []
        threading.Thread(target=self.loop.run_forever, daemon=True, name="fault-proxy").start()
        self._call(self._listen())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    # --- what tests call ----------------------------------------------------------------------
    def set(self, name: str, **kwargs) -> FaultProxy:
        self.mode = Mode(name, **kwargs)
        if name == "refuse":
            self._call(self._close())
        elif self.server is None:
            self._call(self._listen())
        if name != "hang":
            self._call(self._release_hanging())
        return self

    def close(self) -> None:
        self._call(self._release_hanging())
        self._call(self._close())
        self.loop.call_soon_threadsafe(self.loop.stop)

    # --- the proxy ----------------------------------------------------------------------------
    async def _listen(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port,
                                                 reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _release_hanging(self) -> None:
        for writer in self.hanging:
            writer.transport.abort()
        self.hanging.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        self.seen += 1
        mode = self.mode
        if mode.name == "hang":
            self.hanging.append(writer)
            return
        if mode.name == "status" and mode.times > 0:
            mode.times -= 1
            await self._answer(writer, mode)
            return
        if mode.name == "slow":
            await asyncio.sleep(mode.delay)
        await self._relay(head, body, writer, mode.cut_after if mode.name == "cut" else 0)

    async def _answer(self, writer: asyncio.StreamWriter, mode: Mode) -> None:
        payload = mode.body.encode()
        lines = [f"HTTP/1.1 {mode.status} Injected", "Content-Type: application/json",
                 f"Content-Length: {len(payload)}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in mode.headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def _relay(self, head: bytes, body: bytes, writer: asyncio.StreamWriter,
                     cut_after: int) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.up_host, self.up_port)
        except OSError:
            writer.transport.abort()
            return
        lines = [ln for ln in head.rstrip(b"\r\n").split(b"\r\n")
                 if not ln.lower().startswith(b"connection:")]
        up_writer.write(b"\r\n".join([*lines, b"Connection: close"]) + b"\r\n\r\n" + body)
        await up_writer.drain()
        sent, body_sent, in_body = b"", 0, False
        try:
            while chunk := await up_reader.read(65536):
                if cut_after and not in_body:
                    sent += chunk
                    if b"\r\n\r\n" in sent:
                        in_body = True
                        head_len = sent.index(b"\r\n\r\n") + 4
                        chunk, body_sent = sent, len(sent) - head_len
                        if body_sent > cut_after:
                            writer.write(sent[: head_len + cut_after])
                            await writer.drain()
                            writer.transport.abort()
                            return
                    else:
                        continue
                elif cut_after:
                    if body_sent + len(chunk) > cut_after:
                        writer.write(chunk[: cut_after - body_sent])
                        await writer.drain()
                        writer.transport.abort()
                        return
                    body_sent += len(chunk)
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            up_writer.close()
        writer.close()
