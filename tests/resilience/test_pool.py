"""The engines' connection pool (fallbacks.pool) keeps httpcore's behaviour: connections are
reused, bounded, given back, and a connection the server closed or that outlived its
keep-alive is never used again — against a real HTTP/1.1 server on loopback."""

from __future__ import annotations

import asyncio

import httpcore
import httpx
import pytest

from fallbacks import pool

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Server:
    """A keep-alive HTTP/1.1 server counting its connections; it may close idle ones."""

    def __init__(self, delay: float = 0.0, close_after: float | None = None) -> None:
        self.delay = delay
        self.close_after = close_after
        self.accepted = 0
        self.open = 0
        self.most_open = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"),
                                                  self.close_after)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return  # the client left, or the connection sat idle past close_after
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                await asyncio.sleep(self.delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        finally:
            self.open -= 1
            writer.close()


def client(**limits: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=pool.Transport(httpx.Limits(**limits)))


async def test_sequential_calls_open_one_connection():
    server = Server()
    async with server as url, client(max_connections=10) as http:
        for _ in range(20):
            await http.post(url, content=b"hi")
    assert server.accepted == 1


async def test_it_never_opens_more_than_max_connections_and_queues_the_rest():
    server = Server(delay=0.05)
    async with server as url, client(max_connections=3) as http:
        answers = await asyncio.gather(*(http.post(url, content=b"hi") for _ in range(12)))
    assert [a.status_code for a in answers] == [200] * 12
    assert server.most_open <= 3 and server.accepted == 3


async def test_idle_connections_beyond_the_keepalive_limit_are_closed():
    server = Server(delay=0.05)
    async with server as url, client(max_connections=10, max_keepalive_connections=2) as http:
        await asyncio.gather(*(http.post(url, content=b"hi") for _ in range(8)))
        await http.post(url, content=b"hi")  # a pass of the pool after the burst
        await asyncio.sleep(0.05)
        assert server.open <= 2
        assert len(http._transport._pool.connections) <= 2  # type: ignore[attr-defined]


async def test_a_connection_the_server_closed_is_not_reused():
    server = Server(close_after=0.05)
    async with server as url, client(max_connections=10) as http:
        await http.post(url, content=b"hi")
        # The server hangs up on the idle connection (after 0.05 s; on a loaded machine the
        # loop may be later than any fixed sleep, so wait for the hang-up itself).
        while server.open:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # its socket closed on the next turn of the loop

        answer = await http.post(url, content=b"hi")

    assert answer.text == "ok" and server.accepted == 2


async def test_a_connection_past_its_keepalive_is_not_reused():
    server = Server()
    async with server as url, client(max_connections=10, keepalive_expiry=0.05) as http:
        await http.post(url, content=b"hi")
        await asyncio.sleep(0.15)

        await http.post(url, content=b"hi")

    assert server.accepted == 2


async def test_a_sweep_closes_expired_idle_connections_no_request_asks_for(monkeypatch):
    server = Server(delay=0.05)
    async with server as url, client(max_connections=10, keepalive_expiry=0.05) as http:
        await asyncio.gather(*(http.post(url, content=b"hi") for _ in range(4)))
        await asyncio.sleep(0.15)  # all four expired, and no request comes to reuse them
        connections = http._transport._pool  # type: ignore[attr-defined]

        monkeypatch.setattr(pool, "SWEEP_EVERY", 1e9)
        connections._swept_at = asyncio.get_running_loop().time()
        assert connections._assign_requests_to_connections() == []  # not yet: no sweep due
        monkeypatch.setattr(pool, "SWEEP_EVERY", 0.0)
        closing = connections._assign_requests_to_connections()  # e.g. when a request ends

        assert len(closing) == 4 and connections.connections == []
        await connections._close_connections(closing)


class Pooled:
    """A connection as the pool sees it: to one origin, idle or busy."""

    def __init__(self, origin: str, idle: bool) -> None:
        self.origin, self.idle = httpcore.URL(origin).origin, idle

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self.origin

    def is_available(self) -> bool:
        return self.idle

    def is_idle(self) -> bool:
        return self.idle

    def is_closed(self) -> bool:
        return False

    def has_expired(self) -> bool:
        return False


class Queued:
    def __init__(self, url: str) -> None:
        self.request = httpcore.Request("GET", url)
        self.connection: Pooled | None = None

    def is_queued(self) -> bool:
        return self.connection is None

    def assign_to_connection(self, connection: Pooled) -> None:
        self.connection = connection


def test_a_connection_assigned_in_a_pass_is_not_closed_to_make_room():
    """encode/httpcore#1110: the idle connection just given to the first request was the
    spare closed for the second, failing the first."""
    full = pool.Pool(max_connections=2)
    reused, busy = Pooled("http://a.test/", idle=True), Pooled("http://b.test/", idle=False)
    first, second = Queued("http://a.test/x"), Queued("http://c.test/y")
    full._connections = [reused, busy]  # type: ignore[list-item]
    full._requests = [first, second]  # type: ignore[list-item]

    closing = full._assign_requests_to_connections()

    assert first.connection is reused and reused not in closing
    assert second.is_queued()  # waits for a connection to be released
