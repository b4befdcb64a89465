"""Image URLs an engine would fetch from its own network: only public ones (issue 24, item 8).

Through a live Dihya, for the three dialects: a URL naming a metadata, loopback or private
address, or a name resolving to one, is refused before the engine is called. Nothing is
fetched: a public address passes without any network.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from dihya.gateway.models import Generation
from tests.api.fake_engine import fake_engine  # noqa: F401 - a fixture

PIXEL = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
def key(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake",
                                      capabilities=["chat", "vision"]), max_tokens=64)
    return make_key()


def ask(api: str, key: str, url: str) -> httpx.Response:
    body = {"model": "default", "max_tokens": 8, "messages": [
        {"role": "system", "content": "Describe."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": url}}]}]}
    return httpx.post(api + "/v1/chat/completions", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {key}"})


def refused(response: httpx.Response) -> dict:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "image_url_not_allowed"
    assert error["param"] == "messages[1].content[1].image_url.url"
    return error


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/iam/",
    "http://127.0.0.1:8000/admin/",
    "https://10.1.2.3/cat.png",
    "http://[::ffff:127.0.0.1]/cat.png",
    "http://2130706433/cat.png",  # 127.0.0.1, as a number
    "http://localhost:5432/",
    "http://metadata.google.internal/computeMetadata/v1/",
])
def test_it_refuses_image_urls_into_private_networks(api, key, fake_engine, url):  # noqa: F811
    refused(ask(api, key, url))

    assert fake_engine.requests == []
    assert not Generation.objects.exists()


def test_it_refuses_a_name_that_resolves_to_loopback(api, key, fake_engine,  # noqa: F811
                                                     monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        if host == "images.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    error = refused(ask(api, key, "https://images.example/cat.png"))

    assert "127.0.0.1" in error["message"]
    assert fake_engine.requests == []


def test_it_passes_public_addresses_and_data_urls(api, key, fake_engine):  # noqa: F811
    for url in ("https://93.184.215.14/cat.png", PIXEL):
        assert ask(api, key, url).status_code == 200

    assert [r["messages"][1]["content"][1]["image_url"]["url"] for r in fake_engine.requests] \
        == ["https://93.184.215.14/cat.png", PIXEL]


def test_it_takes_data_urls_only_when_told(api, key, fake_engine, settings):  # noqa: F811
    settings.DIHYA_IMAGE_URLS = "none"

    error = refused(ask(api, key, "https://93.184.215.14/cat.png"))

    assert "data URL" in error["message"]
    assert ask(api, key, PIXEL).status_code == 200


def test_it_checks_nothing_when_told_any(api, key, fake_engine, settings):  # noqa: F811
    settings.DIHYA_IMAGE_URLS = "any"

    assert ask(api, key, "http://127.0.0.1:8000/cat.png").status_code == 200


def test_it_refuses_the_anthropic_and_responses_spellings(api, key, fake_engine):  # noqa: F811
    headers = {"Authorization": f"Bearer {key}"}
    anthropic = httpx.post(api + "/v1/messages", timeout=30, headers=headers, json={
        "model": "default", "max_tokens": 8, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url",
                                         "url": "http://169.254.169.254/latest/"}}]}]})
    responses = httpx.post(api + "/v1/responses", timeout=30, headers=headers, json={
        "model": "default", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": "http://169.254.169.254/latest/"}]}]})

    assert anthropic.status_code == responses.status_code == 400
    assert anthropic.json()["error"]["type"] == "invalid_request_error"
    assert responses.json()["error"]["code"] == "image_url_not_allowed"
    assert fake_engine.requests == []
