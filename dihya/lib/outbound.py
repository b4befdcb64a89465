"""Every outbound notification (job callbacks, alert webhooks) leaves through here.

Two duties, the same for every caller:
- sign: `X-Dihya-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, so a
  receiver can check origin and integrity and refuse replays older than its window;
- guard: a URL someone typed must not make Dihya call into its own network (SSRF). Loopback,
  private, link-local, multicast, reserved and cloud-metadata addresses are refused unless
  DIHYA_ALLOW_PRIVATE_WEBHOOKS is set (e.g. for tests, or an intranet receiver). Redirects are
  never followed. Engine base URLs are not checked here: admins set them and they are often
  private on purpose.

This module never sends anything without a timeout and never logs a body.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

SIGNATURE_HEADER = "X-Dihya-Signature"
DEFAULT_TOLERANCE = 300  # seconds a receiver should accept a signature for
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


class UnsafeURL(ValueError):
    """The URL may not be called: wrong scheme, or it resolves to a forbidden address."""


def secret() -> str:
    """The one signing secret of every outbound notification; none is sent unsigned."""
    if not settings.DIHYA_WEBHOOK_SECRET:
        raise UnsafeURL("DIHYA_WEBHOOK_SECRET is not set: notifications would be unsigned")
    return settings.DIHYA_WEBHOOK_SECRET


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


def target(url: str) -> tuple[str, int]:
    """(host, port) of a URL we may call, or UnsafeURL: http(s), a host, a valid port, no
    credentials, no IPv6 zone. Resolves nothing."""
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
    return host, port or (443 if parts.scheme == "https" else 80)


def check_url(url: str) -> None:
    """Raise UnsafeURL unless `url` is http(s) and every address it resolves to is public."""
    host, port = target(url)
    if settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS:
        return
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise UnsafeURL(f"{host} is not a public host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"{host} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not is_public(address):
            raise UnsafeURL(f"{host} resolves to a non-public address ({address})")


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


def post_signed(url: str, payload: dict[str, Any], secret: str, *,
                timeout: float = 10.0) -> httpx.Response:
    """POST `payload` as JSON, signed; raises UnsafeURL or httpx.HTTPError."""
    check_url(url)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"content-type": "application/json", "user-agent": "dihya-webhook",
               SIGNATURE_HEADER: sign(body, secret)}
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        return client.post(url, content=body, headers=headers)
