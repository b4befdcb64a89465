"""The engines' sockets on asyncio itself (fallbacks.network) behave as httpcore's anyio ones
did: answers whole and in order, in plain TCP and in TLS; a read that waits too long, a port
that refuses, a server that closes, each the httpcore error it was; and a reader that falls
behind holds no more than its high-water mark of what the server sends."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import time
from pathlib import Path

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fallbacks import network, pool
from tests.conftest import free_port

pytestmark = pytest.mark.anyio

WORDS = [f"word {i}\n".encode() for i in range(200)]


@pytest.fixture(params=[("asyncio", {}), ("asyncio", {"use_uvloop": True})],
                ids=["asyncio", "uvloop"])
def anyio_backend(request) -> tuple[str, dict[str, bool]]:
    """asyncio's own loop, and uvloop's: uvicorn runs on uvloop when it is installed."""
    return request.param


async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """An HTTP/1.1 server streaming WORDS, one chunk each, a moment apart."""
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            for word in WORDS:
                writer.write(f"{len(word):x}\r\n".encode() + word + b"\r\n")
                await writer.drain()
                await asyncio.sleep(0.001)
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def streamed(client: httpx.AsyncClient, url: str) -> list[bytes]:
    async with client.stream("GET", url) as response:
        assert response.status_code == 200
        return [line.encode() + b"\n" async for line in response.aiter_lines()]


async def test_a_streamed_answer_arrives_whole_and_in_order_on_a_reused_connection():
    server = await asyncio.start_server(chunked, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    transport = pool.Transport(httpx.Limits(max_connections=10, max_keepalive_connections=10))
    async with httpx.AsyncClient(transport=transport) as client:
        assert await streamed(client, url) == WORDS
        assert await streamed(client, url) == WORDS
        assert len(transport._pool.connections) == 1  # kept alive and reused
    server.close()


def certificate(where: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (where / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (where / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return where / "cert.pem", where / "key.pem"


async def test_a_tls_engine_streams_through_it(tmp_path):
    cert, key = certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    server = await asyncio.start_server(chunked, "127.0.0.1", 0, ssl=served)
    port = server.sockets[0].getsockname()[1]
    trusted = ssl.create_default_context(cafile=str(cert))
    connections = httpcore.AsyncConnectionPool(ssl_context=trusted,
                                               network_backend=network.Backend())
    url = f"https://127.0.0.1:{port}/"
    async with connections, connections.stream("GET", url) as response:
        body = b"".join([chunk async for chunk in response.aiter_stream()])
        stream = response.extensions["network_stream"]
        assert stream.get_extra_info("ssl_object") is not None
    assert body == b"".join(WORDS)
    server.close()


async def test_a_tls_handshake_with_an_untrusted_certificate_fails_to_connect(tmp_path):
    cert, key = certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    server = await asyncio.start_server(chunked, "127.0.0.1", 0, ssl=served)
    port = server.sockets[0].getsockname()[1]
    connections = httpcore.AsyncConnectionPool(ssl_context=ssl.create_default_context(),
                                               network_backend=network.Backend())
    async with connections:
        with pytest.raises(httpcore.ConnectError):
            await connections.request("GET", f"https://127.0.0.1:{port}/")
    server.close()


async def test_a_read_that_waits_too_long_times_out():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        await asyncio.sleep(5)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    stream = await network.Backend().connect_tcp("127.0.0.1",
                                                 server.sockets[0].getsockname()[1])
    await stream.write(b"GET / HTTP/1.1\r\n\r\n", timeout=1)
    with pytest.raises(httpcore.ReadTimeout):
        await stream.read(1000, timeout=0.05)
    await stream.aclose()
    server.close()


async def test_a_port_that_refuses_is_a_connect_error():
    with pytest.raises(httpcore.ConnectError):
        await network.Backend().connect_tcp("127.0.0.1", free_port(), timeout=2)


async def test_a_server_that_closes_ends_the_read_and_shows_as_readable():
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    stream = await network.Backend().connect_tcp("127.0.0.1",
                                                 server.sockets[0].getsockname()[1])
    assert await stream.read(100, timeout=2) == b"bye"
    assert await stream.read(100, timeout=2) == b""
    assert stream.get_extra_info("is_readable")  # httpcore drops such an idle connection
    await stream.aclose()
    server.close()


async def test_a_reader_behind_holds_no_more_than_its_high_water_mark():
    sent = bytes(range(256)) * (4 * 1024 * 4)  # 4 MiB

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(sent)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(flood, "127.0.0.1", 0)
    stream = await network.Backend().connect_tcp("127.0.0.1",
                                                 server.sockets[0].getsockname()[1])
    assert isinstance(stream, network.Stream)
    first = await stream.read(65536, timeout=2)
    await asyncio.sleep(0.3)  # the server goes on writing; nobody reads
    held = stream.receiver.size
    assert stream.receiver.paused and held <= network.HIGH_WATER + 256 * 1024
    got = [first]
    while data := await stream.read(65536, timeout=2):
        got.append(data)
    assert b"".join(got) == sent
    await stream.aclose()
    server.close()


async def test_a_connection_made_while_the_process_was_busy_is_not_a_timeout():
    """The kernel connects on loopback at once; the event loop, blocked by other work, sees it
    only after the connect timeout: that lateness is not the engine's (it opened breakers of
    healthy engines under 400 streams)."""
    server = await asyncio.start_server(chunked, "127.0.0.1", 0)
    asyncio.get_running_loop().call_soon(time.sleep, 0.3)  # busy right after the connect starts
    stream = await network.Backend().connect_tcp(
        "127.0.0.1", server.sockets[0].getsockname()[1], timeout=0.05)
    await stream.aclose()
    server.close()


async def test_a_deadline_still_expires_when_nothing_comes():
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with network.patient(0.05):
            await asyncio.sleep(5)
    asyncio.get_running_loop().call_soon(time.sleep, 0.2)  # late, then nothing comes either
    with pytest.raises(TimeoutError):
        async with network.patient(0.05):
            await asyncio.sleep(5)
    assert time.monotonic() - started < 2
