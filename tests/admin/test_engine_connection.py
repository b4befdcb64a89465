"""The engine form's "Test connection" view: unsaved values, causes with their fixes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fallbacks import connection
from fallbacks.errors import Failure, ProviderError
from fallbacks.models import Engine
from fallbacks.spec import EngineSpec

URL = "/admin/console/engines/connection/"


def spec(**changes: object) -> EngineSpec:
    values = {"id": None, "name": "e", "provider": "openai", "base_url": "http://10.0.0.5:8081/v1",
              "model": "m", "api_key": "", "connect_timeout": 2.0, "read_timeout": 30.0,
              "total_timeout": 120.0} | changes
    return EngineSpec(**values)  # type: ignore[arg-type]


def test_it_names_the_form_errors_it_cannot_test_with(admin_client, db):
    answer = admin_client.post(URL, {"provider": "openai", "base_url": "not a url",
                                     "model": "m", "connect_timeout": "-1",
                                     "read_timeout": "30", "total_timeout": "120"}).json()

    assert answer["ok"] is False
    assert set(answer["errors"]) == {"base_url", "connect_timeout"}
    assert "base url" in answer["fix"]


def test_it_says_when_the_key_is_refused_and_where_to_fix_it():
    cause, fix = connection.explain(ProviderError(Failure.AUTH, "bad key", status=401), spec(),
                                    "10.0.0.5:8081")

    assert "refused the API key (HTTP 401)" in cause
    assert "API key variable" in fix


def test_it_says_the_url_is_not_callable_before_calling(db):
    from dihya.lib import loop

    result = loop.run(connection.check(spec(base_url="http://user:pw@host/v1")))

    assert result.ok is False
    assert "credentials" in result.cause


def test_testing_needs_the_right_to_add_or_change_engines(client, django_user_model, db):
    django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    client.login(username="viewer", password="pw")

    assert client.post(URL, {"provider": "openai"}).status_code == 403


class Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        Recorder.seen.append(self.headers.get("Authorization", ""))
        body = b'{"data": [{"id": "m"}]}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    Recorder.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/v1"
    httpd.shutdown()


def form(engine: Engine, **changes: str) -> dict[str, str]:
    return {"engine": str(engine.pk), "name": engine.name, "provider": engine.provider,
            "base_url": engine.base_url, "model": engine.model, "connect_timeout": "2",
            "read_timeout": "5", "total_timeout": "10", **changes}


def test_an_existing_engine_lends_its_stored_key_but_not_to_another_host(admin_client,
                                                                         recorder, db):
    engine = Engine(name="hosted", provider="openai", base_url=recorder, model="m")
    engine.set_api_key("sk-stored")
    engine.save()

    answer = admin_client.post(URL, form(engine)).json()
    assert answer["ok"] is True and answer["models"] == ["m"] and answer["model_listed"]
    moved = recorder.replace("127.0.0.1", "localhost")
    admin_client.post(URL, form(engine, base_url=moved))
    admin_client.post(URL, form(engine, base_url=moved, api_key="sk-typed"))

    assert Recorder.seen == ["Bearer sk-stored", "", "Bearer sk-typed"]
    engine.refresh_from_db()
    assert engine.base_url == recorder and engine.api_key() == "sk-stored"  # nothing saved
