"""An admin tests an engine's connection from its form before saving, by mouse: the models
it offers when it answers; the cause and the fix when it does not."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from fallbacks.models import Engine
from tests.browser.conftest import log_in


class Models(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/v1/models":
            self.send_error(404)
            return
        body = json.dumps({"object": "list", "data": [{"id": "smol-135m"},
                                                      {"id": "qwen-0.5b"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_admin_tests_a_new_engine_before_saving_it(page, superuser, server):
    log_in(page, "admin")
    page.goto("/admin/fallbacks/engine/")
    page.get_by_role("link", name="Add engine").click()
    page.get_by_label("Name").fill("local")
    page.get_by_label("Provider").select_option("openai")
    page.get_by_label("Base url").fill(f"{server}/v1")
    page.get_by_label("Model").fill("smol-135m")
    expect(page.get_by_label("Read timeout (seconds)")).to_be_visible()

    page.get_by_role("button", name="Test connection").click()
    result = page.locator(".dihya-connection-result")
    expect(result).to_contain_text("Connected in")
    expect(result.locator("li")).to_have_text(["smol-135m", "qwen-0.5b"])

    port = closed_port()
    page.get_by_label("Base url").fill(f"http://127.0.0.1:{port}/v1")
    page.get_by_role("button", name="Test connection").click()
    expect(result).to_contain_text(f"Nothing listens at 127.0.0.1:{port}")
    expect(result).to_contain_text("Start the engine's server")

    page.get_by_label("Provider").select_option("mistral")
    page.get_by_label("Base url").fill(f"{server}/v1")
    page.get_by_role("button", name="Test connection").click()
    expect(result).to_contain_text("needs an API key")
    expect(result).to_contain_text("Set an API key or API key variable")

    page.get_by_label("Provider").select_option("openai")
    page.get_by_label("Base url").fill(f"{server}/nothing-here")
    page.get_by_role("button", name="Test connection").click()
    expect(result).to_contain_text("404")
    expect(result).to_contain_text("usually end in /v1")
    assert not Engine.objects.exists()  # nothing was saved
