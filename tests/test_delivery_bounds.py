"""A notification's receiver cannot hold Dihya: slow DNS stays off the database threads, the
connection goes where the check said, and the answer is read within a deadline and a size."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import socketserver
import ssl
import threading
import time

import httpx
import pytest
import respx
from django.utils import timezone
from django_q.models import Schedule

from dihya.gateway import deliveries
from dihya.gateway.models import Delivery
from dihya.lib import outbound
from tests.conftest import free_port

SECRET = "whsec-bounds"
real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def guarded(settings):
    settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS = False
    settings.DIHYA_WEBHOOK_SECRET = SECRET


@pytest.fixture
def local_is_public(monkeypatch):
    """127.0.0.1 passes the guard, so that a local receiver can stand for a public one."""
    checked = outbound.is_public
    monkeypatch.setattr(outbound, "is_public",
                        lambda address: str(address) == "127.0.0.1" or checked(address))


@pytest.fixture
def dns(monkeypatch):
    """dns["name"] = callable(port) → list of addresses; other names resolve for real."""
    answers: dict = {}
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in answers[host]()]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    answers["_lookups"] = lookups
    return answers


def serve(handle) -> tuple[socketserver.ThreadingTCPServer, int]:
    """A raw TCP receiver on 127.0.0.1 whose answer `handle(sock)` writes by hand."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(20)
            data = b""
            while b"\r\n\r\n" not in data:
                data += self.request.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            while len(rest) < length:
                rest += self.request.recv(65536)
            self.server.requests.append(head)  # type: ignore[attr-defined]
            with contextlib.suppress(OSError):  # the client hung up, as a bounded one does
                handle(self.request)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", free_port()), Handler)
    server.daemon_threads = True
    server.requests = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def alert(url: str) -> Delivery:
    return Delivery.objects.create(kind=Delivery.Kind.ALERT, target=url, payload={"a": 1})


def test_it_connects_to_the_address_it_checked(db, guarded, local_is_public, dns, monkeypatch):
    """DNS rebinding: the name answers a public address for the check, then a private one.
    The delivery must go to the checked address, naming the host in `Host`."""
    server, port = serve(lambda s: s.sendall(b"HTTP/1.1 204 No Content\r\n\r\n"))
    answers = iter([["127.0.0.1"]])
    dns["rebind.test"] = lambda: next(answers, ["10.0.0.1"])
    monkeypatch.setattr(deliveries, "hand_over", lambda *a, **kw: None)
    delivery = alert(f"http://rebind.test:{port}/hook")

    assert deliveries.deliver(str(delivery.pk)) == "delivered"

    server.shutdown()
    assert dns["_lookups"] == ["rebind.test"]
    assert f"Host: rebind.test:{port}".encode() in server.requests[0]


def test_a_pinned_https_request_keeps_the_name_for_sni_and_the_certificate():
    target = outbound.Target("https://hooks.example.org/in?x=1", "https", "hooks.example.org",
                             443, "2606:4700::1")
    request = outbound.pinned_request(httpx.AsyncClient(), target, b"{}", {"a": "b"})

    assert str(request.url) == "https://[2606:4700::1]/in?x=1"
    assert request.headers["Host"] == "hooks.example.org"
    assert request.extensions["sni_hostname"] == "hooks.example.org"


def test_it_reads_only_the_start_of_an_endless_answer(db, guarded, local_is_public,
                                                      monkeypatch):
    def endless(sock):
        sock.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        for _ in range(400):  # 20 s of 1 KB every 50 ms: never a read timeout
            sock.sendall(b"x" * 1024)
            time.sleep(0.05)

    server, port = serve(endless)
    monkeypatch.setattr(deliveries, "hand_over", lambda *a, **kw: None)
    delivery = alert(f"http://127.0.0.1:{port}/hook")

    started = time.monotonic()
    assert deliveries.deliver(str(delivery.pk)) == "delivered"
    assert time.monotonic() - started < 3
    server.shutdown()


def test_it_gives_up_on_a_receiver_that_trickles_at_the_deadline(db, guarded, local_is_public,
                                                                monkeypatch):
    def trickle(sock):
        sock.sendall(b"HTTP/1.1 200 OK\r\n")
        for _ in range(60):  # one byte of headers every 0.3 s: never a read timeout
            sock.sendall(b"X")
            time.sleep(0.3)

    server, port = serve(trickle)
    monkeypatch.setattr(outbound, "DELIVERY_DEADLINE", 1.0)
    monkeypatch.setattr(deliveries, "hand_over", lambda *a, **kw: None)
    delivery = alert(f"http://127.0.0.1:{port}/hook")

    started = time.monotonic()
    assert deliveries.deliver(str(delivery.pk)) == "pending"  # retried later
    assert time.monotonic() - started < 3
    delivery.refresh_from_db()
    assert "deadline" in delivery.error
    server.shutdown()


def test_a_name_that_does_not_resolve_in_time_is_retried_not_dropped(db, guarded, dns,
                                                                     monkeypatch):
    release = threading.Event()
    dns["slow.test"] = lambda: release.wait(10) and []
    monkeypatch.setattr(outbound, "RESOLVE_TIMEOUT", 0.3)
    monkeypatch.setattr(deliveries, "hand_over", lambda *a, **kw: None)
    delivery = alert("https://slow.test/hook")
    try:
        assert deliveries.deliver(str(delivery.pk)) == "pending"
    finally:
        release.set()
    delivery.refresh_from_db()
    assert "did not resolve within" in delivery.error and delivery.status == "pending"


@respx.mock
def test_deliveries_never_take_more_than_their_worker_slots(db, settings):
    """Slow receivers may hold DIHYA_DELIVERY_SLOTS workers at most, never every worker: one
    more delivery is put off (not counted as an attempt) and generation jobs keep a worker."""
    settings.DIHYA_DELIVERY_SLOTS = 1
    settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS = True
    settings.DIHYA_WEBHOOK_SECRET = SECRET
    hook = respx.post("http://hooks.test/in").mock(httpx.Response(204))
    busy = alert("http://slow.test/in")
    Delivery.objects.filter(pk=busy.pk).update(
        sending_until=timezone.now() + dt.timedelta(seconds=10))  # another worker sends it
    waiting = alert("http://hooks.test/in")

    assert deliveries.deliver(str(waiting.pk)) == "deferred"

    waiting.refresh_from_db()
    assert (waiting.attempts, waiting.status, hook.called) == (0, "pending", False)
    later = Schedule.objects.get(name=f"delivery {waiting.pk} #1")
    assert later.next_run > timezone.now()
    Delivery.objects.filter(pk=busy.pk).update(
        sending_until=timezone.now() - dt.timedelta(seconds=1))  # its worker died: lease over
    assert deliveries.deliver(str(waiting.pk)) == "delivered"
    waiting.refresh_from_db()
    assert waiting.attempts == 1 and waiting.sending_until is None


def certificate(name: str, tmp_path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context presenting a certificate for `name`, client context trusting its CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def named(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(named("test CA")).issuer_name(named("test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
          .not_valid_after(now + dt.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(named(name)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(pem) + key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "leaf.pem")
    client = ssl.create_default_context(cadata=ca.public_bytes(pem).decode())
    return server, client


@pytest.mark.parametrize("certified_name, outcome", [("hooks.test", "delivered"),
                                                     ("other.test", "pending")])
def test_a_pinned_https_delivery_still_checks_the_certificate_of_the_name(
        db, guarded, local_is_public, dns, monkeypatch, tmp_path, certified_name, outcome):
    server_tls, client_tls = certificate(certified_name, tmp_path)
    names: list[str | None] = []
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)

    class Answer(socketserver.BaseRequestHandler):
        def handle(self):
            with contextlib.suppress(OSError), server_tls.wrap_socket(
                    self.request, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data or not data.endswith(b"}"):  # the JSON body
                    data += tls.recv(65536)
                names.append(data.decode())
                tls.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    listener = socketserver.ThreadingTCPServer(("127.0.0.1", free_port()), Answer)
    listener.daemon_threads = True
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    port = listener.server_address[1]
    dns["hooks.test"] = lambda: ["127.0.0.1"]

    class Trusting(httpx.AsyncClient):
        def __init__(self, **kwargs):
            super().__init__(verify=client_tls, **kwargs)

    monkeypatch.setattr(outbound.httpx, "AsyncClient", Trusting)
    monkeypatch.setattr(deliveries, "hand_over", lambda *a, **kw: None)
    delivery = alert(f"https://hooks.test:{port}/hook")

    assert deliveries.deliver(str(delivery.pk)) == outcome
    listener.shutdown()
    assert names[0] == "hooks.test"  # SNI: the name, though the connection went to 127.0.0.1
    if outcome == "delivered":
        assert f"Host: hooks.test:{port}" in names[1]
    else:
        delivery.refresh_from_db()
        assert "CERTIFICATE_VERIFY_FAILED" in delivery.error
