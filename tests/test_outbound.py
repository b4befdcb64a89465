"""Outbound notifications are signed, and never aimed at our own network by a typed URL."""

from __future__ import annotations

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


def test_nothing_is_sent_unsigned(settings):
    settings.DIHYA_WEBHOOK_SECRET = ""

    with pytest.raises(outbound.UnsafeURL, match="DIHYA_WEBHOOK_SECRET"):
        outbound.post_signed("https://93.184.215.14/hook", {"a": 1}, outbound.secret())
