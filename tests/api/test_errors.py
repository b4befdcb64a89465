"""Every error a client can cause, from real HTTP requests: OpenAI's shape, a stable code,
never a 500."""

from __future__ import annotations

import datetime as dt
import http.server
import threading

import httpx
import openai
import pytest
from django.utils import timezone

from dihya.gateway import keys
from dihya.gateway.models import ApiKey, Generation
from tests.conftest import free_port, recorded

HELLO = {"model": "default", "messages": [{"role": "user", "content": "Say hello"}],
         "max_tokens": 8}


@pytest.fixture
def dead_route(dead_url, make_engine, make_route):
    return make_route("default", make_engine(dead_url, name="dead"), max_tokens=64)


def post(api: str, key: str | None, body: object = HELLO, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if isinstance(body, (bytes, str)):
        return httpx.post(api + "/v1/chat/completions", content=body,
                          headers={**headers, "Content-Type": "application/json"}, **kw)
    return httpx.post(api + "/v1/chat/completions", json=body, headers=headers, **kw)


def error_of(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["code"] == code and error["message"]
    return error


def test_it_refuses_missing_unknown_revoked_and_expired_keys(api, dead_route, make_key):
    revoked = make_key()
    keys.revoke(ApiKey.objects.get(prefix=revoked[:keys.PREFIX_LENGTH]))
    expired = make_key(expires=timezone.now() - dt.timedelta(seconds=1))

    for key in (None, "dk-unknown", "not-even-a-dihya-key", revoked, expired):
        error = error_of(post(api, key), 401, "invalid_api_key")
        assert error["type"] == "authentication_error"
    response = httpx.post(api + "/v1/chat/completions", json=HELLO,
                          headers={"Authorization": "Basic abc"})
    error_of(response, 401, "invalid_api_key")
    error_of(httpx.get(api + "/v1/models"), 401, "invalid_api_key")
    error_of(httpx.get(api + "/api/v1/generations/x"), 401, "invalid_api_key")
    assert not Generation.objects.exists()


def test_it_stops_a_key_at_once_when_revoked(api, dead_route, make_key):
    raw = make_key()
    assert httpx.get(api + "/v1/models", headers={"Authorization": f"Bearer {raw}"}).is_success

    keys.revoke(ApiKey.objects.get())

    response = httpx.get(api + "/v1/models", headers={"Authorization": f"Bearer {raw}"})
    error_of(response, 401, "invalid_api_key")


def test_it_refuses_routes_the_key_may_not_use_and_unknown_ones(api, dead_route, make_route,
                                                                make_key):
    make_route("private")
    key = make_key(routes=["default"])

    error = error_of(post(api, key, {**HELLO, "model": "private"}), 403, "route_not_allowed")
    assert error["param"] == "model"
    error = error_of(post(api, key, {**HELLO, "model": "nope"}), 404, "model_not_found")
    assert error["param"] == "model"


@pytest.mark.parametrize(("body", "param"), [
    (b"{not json", None),
    (b"", None),
    (b"[1, 2]", None),
    (b'"a string"', None),
    ({**HELLO, "messages": []}, "messages"),
    ({**HELLO, "messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
    ({**HELLO, "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({**HELLO, "messages": "hello"}, "messages"),
    ({**HELLO, "max_tokens": "many"}, "max_tokens"),
    ({**HELLO, "max_tokens": 10**12}, "max_tokens"),
    ({**HELLO, "max_completion_tokens": 100_000}, "max_completion_tokens"),
    ({**HELLO, "temperature": 9}, "temperature"),
    ({**HELLO, "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"messages": HELLO["messages"]}, "model"),
])
def test_it_answers_bad_bodies_with_invalid_request(api, dead_route, make_key, body, param):
    error = error_of(post(api, make_key(), body), 400, "invalid_request")
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert not Generation.objects.exists()


def test_it_answers_503_when_every_engine_fails(api, dead_route, make_key):
    key = make_key()
    error = error_of(post(api, key), 503, "all_engines_failed")
    assert "dead" in error["message"]
    error_of(post(api, key, {**HELLO, "stream": True}), 503, "all_engines_failed")

    recorded()
    assert list(Generation.objects.values_list("status", flat=True)) == ["failed", "failed"]


def test_the_sdk_raises_typed_errors(api, dead_route, make_key):
    sdk = openai.OpenAI(base_url=api + "/v1", api_key=make_key(), max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.chat.completions.create(model="nope", messages=HELLO["messages"])
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=api + "/v1", api_key="dk-x", max_retries=0).models.list()


class DiesMidStream(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible engine that sends one token, then drops the connection."""

    protocol_version = "HTTP/1.0"

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.write(b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n')
        self.wfile.flush()

    def log_message(self, *args):
        pass


@pytest.fixture
def dying_engine_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), DiesMidStream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_it_ends_a_stream_with_an_error_event_when_the_engine_dies(api, dying_engine_url,
                                                                     make_engine, make_route,
                                                                     make_key):
    make_route("default", make_engine(dying_engine_url, name="dying"))

    with httpx.stream("POST", api + "/v1/chat/completions", timeout=30,
                      json={**HELLO, "stream": True},
                      headers={"Authorization": f"Bearer {make_key()}"}) as response:
        assert response.status_code == 200
        assert response.headers["X-Dihya-Engine"] == "dying"
        events = [line for line in response.iter_lines() if line.startswith("data: ")]

    assert '"Hel"' in events[0]
    assert '"error"' in events[-1] and "engine_failed_mid_stream" in events[-1]
    assert "data: [DONE]" not in events
    recorded()
    generation = Generation.objects.get()
    assert generation.status == "failed"
    assert generation.error_code == "engine_failed_mid_stream"
    assert generation.attempts.get().detail.startswith("mid-stream")


def test_a_jobs_only_key_cannot_chat_but_can_queue(api, dead_route, make_key):
    key = make_key(scopes=frozenset({"jobs"}))

    error = error_of(post(api, key), 403, "scope_not_allowed")
    assert "chat" in error["message"]
    queued = httpx.post(api + "/api/v1/generations", json=HELLO,
                        headers={"Authorization": f"Bearer {key}"})
    assert queued.status_code == 202


def test_a_chat_only_key_cannot_touch_jobs(api, dead_route, make_key):
    key = make_key(scopes=frozenset({"chat"}))
    auth = {"Authorization": f"Bearer {key}"}

    error_of(httpx.post(api + "/api/v1/generations", json=HELLO, headers=auth), 403,
             "scope_not_allowed")
    error_of(httpx.get(api + "/api/v1/generations/00000000-0000-0000-0000-000000000000",
                       headers=auth), 403, "scope_not_allowed")
    assert not Generation.objects.exists()
    assert httpx.get(api + "/v1/models", headers=auth).status_code == 200


def test_unknown_paths_and_wrong_methods_answer_in_the_openai_shape(api, make_key):
    auth = {"Authorization": f"Bearer {make_key()}"}

    wrong_method = httpx.get(api + "/v1/chat/completions", headers=auth)
    assert error_of(wrong_method, 405, "method_not_allowed")
    assert "POST" in wrong_method.headers["Allow"]
    error_of(httpx.get(api + "/v1/nothing-here", headers=auth), 404, "not_found")
    assert httpx.get(api + "/admin/nothing-here").headers["content-type"].startswith("text/html")
