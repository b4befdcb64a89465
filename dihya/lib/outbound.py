"""Every outbound notification (job callbacks, alert webhooks) leaves through here.

Three duties, the same for every caller:
- sign: `X-Dihya-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the
  receiver's own secret (the deliverer picks it), so a receiver can check origin and integrity
  and refuse replays older than its window;
- guard: a URL someone typed must not make Dihya call into its own network (SSRF). Loopback,
  private, link-local, multicast, the IANA special-purpose blocks and cloud-metadata hosts are
  refused unless DIHYA_ALLOW_PRIVATE_WEBHOOKS is set (e.g. for tests, or an intranet
  receiver: then names are not resolved here, nor connections pinned). Redirects are never
  followed. Engine base URLs are not checked here: admins set them and they are often
  private on purpose;
- bound: a name is resolved on a small pool of its own (RESOLVER_THREADS) under a deadline
  (RESOLVE_TIMEOUT), never on a caller's database thread; the connection goes to the address
  that was checked (the URL's host kept in `Host` and, for https, in SNI and the certificate
  check), so a DNS answer that changes in between (rebinding) is never used; a delivery has a
  total deadline (DELIVERY_DEADLINE) and reads at most MAX_RESPONSE_BYTES of the answer.

This module never sends anything without a deadline and never logs a body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from dihya.lib import loop

SIGNATURE_HEADER = "X-Dihya-Signature"
DEFAULT_TOLERANCE = 300  # seconds a receiver should accept a signature for
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}
RESOLVE_TIMEOUT = 3.0  # seconds a name may take to resolve
RESOLVER_THREADS = 4  # names resolving at once per process; more wait (under their deadline)
DELIVERY_DEADLINE = 15.0  # seconds for everything: resolve, connect, send, read the answer
MAX_RESPONSE_BYTES = 4096  # of a receiver's answer; only its status code matters


class UnsafeURL(ValueError):
    """The URL may not be called: wrong scheme, or it resolves to a forbidden address."""


class NotResolved(UnsafeURL):
    """The name did not resolve (in time): refused at submission, retried at delivery."""


@dataclass(frozen=True, slots=True)
class Target:
    """A URL checked, and the address it will be called at."""

    url: str
    scheme: str
    host: str
    port: int
    address: str  # "" when DIHYA_ALLOW_PRIVATE_WEBHOOKS: nothing is guarded, nothing pinned

    @property
    def pinned_url(self) -> httpx.URL:
        url = httpx.URL(self.url)
        return url.copy_with(host=self.address) if self.address else url

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify(body: bytes, header: str, secret: str, *, tolerance: int = DEFAULT_TOLERANCE,
           now: float | None = None) -> bool:
    """What a receiver does (documented in the README): check the MAC and the age."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        ts = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def parse(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL we may call, or UnsafeURL: http(s), a host, a valid
    port, no credentials, no IPv6 zone. Resolves nothing."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when out of range or not a number
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError as exc:
        raise UnsafeURL(f"malformed URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UnsafeURL("only http and https URLs with a host are allowed")
    if parts.username or parts.password:
        raise UnsafeURL("credentials in URLs are not allowed")
    if "%" in host:
        raise UnsafeURL("IPv6 zone identifiers are not allowed")
    if port == 0:
        raise UnsafeURL("port 0 is not a port")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def check_url(url: str) -> Target:
    """The checked target of `url` (synchronous: blocks this thread up to RESOLVE_TIMEOUT);
    UnsafeURL unless it is http(s) and every address it resolves to is public."""
    if settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS:
        return Target(url, *parse(url), "")
    return check_public(url)


def check_public(url: str) -> Target:
    """`check_url` whatever DIHYA_ALLOW_PRIVATE_WEBHOOKS says: for URLs that are not
    webhooks (image URLs an engine will fetch, dihya.generation.images)."""
    scheme, host, port = _screen(url)
    future = _resolver().submit(_getaddrinfo, host, port)
    try:
        infos = future.result(RESOLVE_TIMEOUT)
    except TimeoutError:
        raise NotResolved(f"{host} did not resolve within {RESOLVE_TIMEOUT:g}s") from None
    return _checked(url, scheme, host, port, infos)


async def acheck_url(url: str) -> Target:
    """`check_url` for the event loop: the name resolves on the resolver pool, not on the
    caller's (database) threads, and not for longer than RESOLVE_TIMEOUT."""
    if settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS:
        return Target(url, *parse(url), "")
    scheme, host, port = _screen(url)
    future = asyncio.get_running_loop().run_in_executor(_resolver(), _getaddrinfo, host, port)
    try:
        infos = await asyncio.wait_for(future, RESOLVE_TIMEOUT)
    except TimeoutError:
        raise NotResolved(f"{host} did not resolve within {RESOLVE_TIMEOUT:g}s") from None
    return _checked(url, scheme, host, port, infos)


def _screen(url: str) -> tuple[str, str, int]:
    scheme, host, port = parse(url)
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise UnsafeURL(f"{host} is not a public host")
    return scheme, host, port


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _resolver() -> ThreadPoolExecutor:
    """The resolver threads. A lookup that hangs holds one until the system resolver gives up;
    the deadline frees its caller at once, and the pool's size bounds how many can hang."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=RESOLVER_THREADS,
                                       thread_name_prefix="dihya-resolve")
        return _pool


def _getaddrinfo(host: str, port: int) -> list[Any]:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise NotResolved(f"{host} does not resolve") from exc


def _checked(url: str, scheme: str, host: str, port: int, infos: list[Any]) -> Target:
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise NotResolved(f"{host} does not resolve")
    for address in addresses:
        if not is_public(address):
            raise UnsafeURL(f"{host} resolves to a non-public address ({address})")
    return Target(url, scheme, host, port, str(addresses[0]))


# The IANA special-purpose address registries (iana-ipv4-special-registry,
# iana-ipv6-special-registry): the blocks not marked "globally reachable" (2001::/23 whole:
# its few reachable sub-blocks, AMT and ORCHIDv2, are no webhook receivers; Teredo is in it),
# plus what is deprecated but still routed inside networks (site-local fec0::/10) and
# multicast. Spelled out
# rather than left to `ipaddress`'s flags, which vary between Python versions (3.11 counts
# 192.0.0.192 and fec0::/10 as public). 6to4 and NAT64 carry an IPv4 address: it is checked.
NON_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "255.255.255.255/32",
    "::/128", "::1/128", "::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b:1::/48",
    "100::/64", "100:0:0:1::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether `address` is a globally reachable unicast address of someone else's network."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return is_public(address.ipv4_mapped)
        if address in NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address in SIX_TO_FOUR:
            assert address.sixtofour is not None
            return is_public(address.sixtofour)
    if any(address in network for network in NON_PUBLIC):
        return False
    return not (address.is_private or address.is_loopback or address.is_link_local
                or address.is_multicast or address.is_reserved or address.is_unspecified)


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def post_signed(url: str, payload: dict[str, Any], secret: str, *,
                deadline: float | None = None) -> httpx.Response:
    """POST `payload` as JSON, signed, within `deadline` seconds in all (DELIVERY_DEADLINE by
    default); raises UnsafeURL or httpx.HTTPError. The answer's body is not kept."""
    limit = DELIVERY_DEADLINE if deadline is None else deadline
    return loop.run(apost_signed(url, payload, secret, deadline=limit))


async def apost_signed(url: str, payload: dict[str, Any], secret: str, *,
                       deadline: float) -> httpx.Response:
    try:
        async with asyncio.timeout(deadline):
            target = await acheck_url(url)
            body = body_of(payload)
            headers = {"content-type": "application/json", "user-agent": "dihya-webhook",
                       SIGNATURE_HEADER: sign(body, secret)}
            async with httpx.AsyncClient(timeout=min(10.0, deadline), follow_redirects=False,
                                         trust_env=False) as client:
                response = await client.send(pinned_request(client, target, body, headers),
                                             stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= MAX_RESPONSE_BYTES:
                            break
                finally:
                    await response.aclose()
                return response
    except TimeoutError:
        raise httpx.TimeoutException(f"no answer within the {deadline:g}s deadline") from None


def pinned_request(client: httpx.AsyncClient, target: Target, body: bytes,
                   headers: dict[str, str]) -> httpx.Request:
    """The POST to the checked address, naming the URL's host in `Host` and, for https, in
    SNI (which httpcore also checks the certificate against)."""
    if not target.address:
        return client.build_request("POST", target.url, content=body, headers=headers)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return client.build_request("POST", target.pinned_url, content=body,
                                headers={**headers, "Host": target.host_header},
                                extensions=extensions)
