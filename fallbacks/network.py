"""httpcore's network backend on asyncio itself, for the connections to engines.

httpcore reaches the network through anyio. Each read of a streamed answer then costs a
cancel scope (`fail_after`), a checkpoint (one more turn of the event loop) and the socket's
reading paused after the data and resumed before the next read (two `epoll_ctl` calls).
Profiled on a web process relaying 100 long streams, that was about a fifth of its CPU: more
than everything Dihya itself does with a chunk (docs/benchmarks-notes.md, long streams).

Here the transport reads as data comes and keeps it for the next `read`, which waits on one
future with one timer when nothing is there. Reading pauses only when a reader falls behind by
HIGH_WATER bytes (a slow client holding a stream holds no more than that of its engine's
answer), and resumes under LOW_WATER. Writes wait only when the transport says its buffer is
full. TLS is asyncio's `start_tls`, as asyncio's own streams do it; connecting tries the
addresses as anyio does (happy eyeballs, 0.25 s apart) on asyncio's loop, in turn on uvloop's.
Both loops are supported (tests/resilience/test_network.py runs on each).

A connect timeout does not count the time the event loop itself was behind (`patient`): on a
process so loaded that its loop ran seconds late (400 streams at once on a shared 2-core
machine), connections the kernel had made in a millisecond "timed out" after 2 s, the engine's
breaker opened, and a healthy engine was refused for its cooldown.

Only httpcore's public API (`AsyncNetworkBackend`, `AsyncNetworkStream` and its exceptions):
no library internals borrowed, no fence. Must never block the event loop.
"""

from __future__ import annotations

import asyncio
import select
import ssl
import typing
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

import httpcore

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
HAPPY_EYEBALLS_DELAY = 0.25  # anyio's, which httpcore used before
LATE = 0.02        # a timer this late means the loop was busy, not that the engine was slow
MAX_POSTPONED = 3  # times a deadline moves for the loop's lateness, at most

SocketOption = (tuple[int, int, int] | tuple[int, int, bytes | bytearray]
                | tuple[int, int, None, int])


class Receiver(asyncio.Protocol):
    """What the transport hands over, kept until read; and whether writing may go on."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.eof = False
        self.error: BaseException | None = None
        self.paused = False          # reading paused: the reader is HIGH_WATER behind
        self.waiter: asyncio.Future[None] | None = None
        self.write_blocked: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        if self.size > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # the transport closes: httpcore reads b"" and drops the connection

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self.write_blocked is None:
            self.write_blocked = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        blocked, self.write_blocked = self.write_blocked, None
        if blocked is not None and not blocked.done():
            blocked.set_result(None)

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` of what came in (at least one byte: called when there is some)."""
        first = self.chunks.popleft()
        if len(first) > max_bytes:
            self.chunks.appendleft(first[max_bytes:])
            first = first[:max_bytes]
        elif self.chunks and len(first) < max_bytes:  # several arrived: one read, one parse
            parts = [first]
            room = max_bytes - len(first)
            while self.chunks and len(self.chunks[0]) <= room:
                part = self.chunks.popleft()
                parts.append(part)
                room -= len(part)
            first = b"".join(parts)
        self.size -= len(first)
        if self.paused and self.size < LOW_WATER and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return first


def _time_out(waiter: asyncio.Future[None], error: type[Exception]) -> None:
    if not waiter.done():
        waiter.set_exception(error())


class Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, receiver: Receiver) -> None:
        self.transport = transport
        self.receiver = receiver

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        r = self.receiver
        if not r.size:
            if r.eof:
                return self._ended()
            loop = asyncio.get_running_loop()
            waiter = r.waiter = loop.create_future()
            timer = (loop.call_later(timeout, _time_out, waiter, httpcore.ReadTimeout)
                     if timeout is not None else None)
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                if r.waiter is waiter:
                    r.waiter = None
            if not r.size:
                return self._ended()
        return r.take(max_bytes)

    def _ended(self) -> bytes:
        if self.receiver.error is not None:
            raise httpcore.ReadError(str(self.receiver.error) or
                                     type(self.receiver.error).__name__)
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        r = self.receiver
        if self.transport.is_closing():
            raise httpcore.WriteError(str(r.error) if r.error else "connection closed")
        self.transport.write(buffer)
        blocked = r.write_blocked
        if blocked is not None:  # the transport's buffer is full: wait until it drains
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(blocked)
            except TimeoutError as exc:
                raise httpcore.WriteTimeout(str(exc)) from exc
            if r.error is not None:
                raise httpcore.WriteError(str(r.error))

    async def aclose(self) -> None:
        self.transport.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(self.transport, self.receiver, ssl_context,
                                                 server_hostname=server_hostname)
        except TimeoutError as exc:
            self.transport.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError, RuntimeError) as exc:
            self.transport.close()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:  # the connection was closed during the handshake
            raise httpcore.ConnectError("connection closed during the TLS handshake")
        self.receiver.transport = transport
        return Stream(transport, self.receiver)

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "ssl_object":
            return self.transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self.transport.get_extra_info("sockname")
        if info == "server_addr":
            return self.transport.get_extra_info("peername")
        if info == "socket":
            return self.transport.get_extra_info("socket")
        if info == "is_readable":  # httpcore: an idle connection the server closed or wrote to
            r = self.receiver
            return bool(r.size or r.eof) or readable(self.transport.get_extra_info("socket"))
        return None


def readable(sock: typing.Any) -> bool:
    """Whether the kernel holds data (or the end) not yet handed to the transport."""
    fileno = sock.fileno() if sock is not None else -1
    if fileno < 0:
        return True
    poll = select.poll()
    poll.register(fileno, select.POLLIN)
    return bool(poll.poll(0))


class patient:  # an async context manager, read as a phrase: `async with patient(2.0):`
    """`asyncio.timeout(seconds)`, whose deadline moves back by as much as the event loop
    was late to notice it (up to MAX_POSTPONED times): time the process spent on other work
    is not the engine's. A deadline noticed on time expires as asyncio's does."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.postponed = 0
        self.timeout = asyncio.timeout(None)
        self.timer: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> None:
        await self.timeout.__aenter__()
        if self.seconds is not None:
            loop = asyncio.get_running_loop()
            self._arm(loop, loop.time() + self.seconds)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self.timer = loop.call_at(when, self._due, loop, when)

    def _due(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        late = loop.time() - when
        if late > LATE and self.postponed < MAX_POSTPONED:
            self.postponed += 1
            self._arm(loop, loop.time() + late)
        else:
            self.timeout.reschedule(loop.time())

    async def __aexit__(self, *exc: typing.Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
        await self.timeout.__aexit__(*exc)


class Backend(httpcore.AsyncNetworkBackend):
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[SocketOption] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        # asyncio's own loop tries a name's addresses as anyio did (happy eyeballs); uvloop's
        # (uvicorn's choice when installed) has no such option and tries them in turn.
        delay = HAPPY_EYEBALLS_DELAY if isinstance(loop, asyncio.BaseEventLoop) else None
        local = (local_address, 0) if local_address else None
        if delay is None:
            return await opened(lambda: loop.create_connection(
                Receiver, host, port, local_addr=local), timeout, socket_options)
        return await opened(lambda: loop.create_connection(
            Receiver, host, port, local_addr=local, happy_eyeballs_delay=delay), timeout,
            socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[SocketOption] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await opened(lambda: loop.create_unix_connection(Receiver, path), timeout,
                            socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def opened(connect: Callable[[], Awaitable[tuple[asyncio.BaseTransport, Receiver]]],
                 timeout: float | None,
                 socket_options: Iterable[SocketOption] | None) -> Stream:
    """A connection made within `timeout` (the loop's own lateness not counted), as
    httpcore's errors, with the caller's socket options set."""
    try:
        async with patient(timeout):
            transport, receiver = await connect()
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout(str(exc)) from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
    sock = transport.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)
    return Stream(typing.cast(asyncio.Transport, transport), receiver)
