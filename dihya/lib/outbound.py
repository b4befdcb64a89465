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


def check_url(url: str) -> None:
    """Raise UnsafeURL unless `url` is http(s) and every address it resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("only http and https URLs with a host are allowed")
    if parts.username or parts.password:
        raise UnsafeURL("credentials in URLs are not allowed")
    if settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS:
        return
    host = parts.hostname.lower().rstrip(".")
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise UnsafeURL(f"{host} is not a public host")
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"{host} does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not is_public(address):
            raise UnsafeURL(f"{host} resolves to a non-public address ({address})")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (address.is_private or address.is_loopback or address.is_link_local
                or address.is_multicast or address.is_reserved or address.is_unspecified
                or address in ipaddress.ip_network("100.64.0.0/10"))


def post_signed(url: str, payload: dict[str, Any], secret: str, *,
                timeout: float = 10.0) -> httpx.Response:
    """POST `payload` as JSON, signed; raises UnsafeURL or httpx.HTTPError."""
    check_url(url)
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"content-type": "application/json", "user-agent": "dihya-webhook",
               SIGNATURE_HEADER: sign(body, secret)}
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        return client.post(url, content=body, headers=headers)
