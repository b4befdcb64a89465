"""Outbound notifications are signed, and never aimed at our own network by a typed URL."""

from __future__ import annotations

import ipaddress

import pytest

from dihya.lib import outbound


def test_it_signs_so_that_a_receiver_can_verify():
    header = outbound.sign(b'{"a":1}', "s3cret", timestamp=1_700_000_000)

    assert outbound.verify(b'{"a":1}', header, "s3cret", now=1_700_000_010)


@pytest.mark.parametrize("body, secret, now", [
    (b'{"a":2}', "s3cret", 1_700_000_010),   # body changed
    (b'{"a":1}', "other", 1_700_000_010),    # wrong secret
    (b'{"a":1}', "s3cret", 1_700_001_000),   # replayed outside the window
])
def test_it_refuses_tampered_foreign_or_stale_signatures(body, secret, now):
    header = outbound.sign(b'{"a":1}', "s3cret", timestamp=1_700_000_000)

    assert not outbound.verify(body, header, secret, now=now)


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=00", "v1=00"])
def test_it_refuses_malformed_signature_headers(header):
    assert not outbound.verify(b"{}", header, "s3cret")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://localhost:8000/", "http://10.0.0.5/", "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/", "http://192.168.1.1/", "http://[::ffff:127.0.0.1]/",
    "http://metadata.google.internal/", "ftp://example.com/", "http://user:pw@example.com/",
    "not a url",
])
def test_it_refuses_private_and_odd_urls(url, settings):
    settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS = False

    with pytest.raises(outbound.UnsafeURL):
        outbound.check_url(url)


def test_it_allows_private_urls_when_told_to(settings):
    settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS = True

    outbound.check_url("http://127.0.0.1:9999/hook")


def test_it_accepts_a_public_address(settings):
    settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS = False

    outbound.check_url("https://93.184.215.14/hook")


@pytest.mark.parametrize("address", [
    "192.0.0.192", "192.0.0.8", "192.0.0.171",          # IETF protocol assignments (192.0.0.0/24)
    "192.88.99.1",                                      # 6to4 relay anycast
    "198.18.0.1", "198.19.255.254",                     # benchmarking
    "100.64.0.1", "100.100.100.200",                    # shared (CGNAT; Alibaba metadata)
    "0.1.2.3", "240.0.0.1", "255.255.255.255",          # "this network", reserved, broadcast
    "192.0.2.1", "198.51.100.1", "203.0.113.1",         # documentation
    "fec0::1", "feff::1",                               # site-local (deprecated)
    "2002:c0a8:14d::1", "2002:7f00:1::1", "2002:a9fe:a9fe::1",  # 6to4 of private IPv4
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",             # Teredo
    "64:ff9b::c0a8:14d", "64:ff9b::7f00:1",             # NAT64 of 192.168.1.77, 127.0.0.1
    "64:ff9b:1::1",                                     # local-use NAT64
    "::ffff:192.168.1.77", "::ffff:0:a00:1",            # IPv4-mapped, IPv4-translated
    "::127.0.0.1", "::1", "::",                         # IPv4-compatible, loopback, unspecified
    "100::1", "2001:db8::1", "3fff::1", "5f00::1",      # discard, documentation, SRv6
    "2001:10::1", "fc00::1", "fd00:ec2::254", "fe80::1", "ff02::1",
])
def test_special_purpose_addresses_are_not_public(address):
    assert not outbound.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    "93.184.215.14", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "2a00:1450:4007:80f::200e",
    "64:ff9b::5db8:d70e",       # NAT64 of 93.184.215.14: a public IPv4 host
    "2002:5db8:d70e::1",        # 6to4 of 93.184.215.14
    "::ffff:93.184.215.14",
])
def test_public_addresses_stay_public(address):
    assert outbound.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("url", ["http://h:99999/", "http://[::1/", "http://example.org:0x50/",
                                 "http://[fe80::1%25eth0]/", "http:///nohost"])
def test_a_malformed_url_is_refused_not_crashed_on(url, settings):
    settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS = True

    with pytest.raises(outbound.UnsafeURL):
        outbound.check_url(url)
