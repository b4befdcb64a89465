"""The jobs API: submit, long-poll, cancel, ownership, signed callbacks — on a real qcluster."""

from __future__ import annotations

import http.server
import json
import queue
import threading
import time

import httpx
import pytest

from dihya.gateway import deliveries
from dihya.gateway.models import ApiClient, Delivery, Generation
from dihya.generation import callbacks
from dihya.lib import outbound
from tests.conftest import free_port

HELLO = {"model": "default", "messages": [{"role": "user", "content": "Say hello"}],
         "max_tokens": 8}
SECRET = "test-webhook-secret"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def webhooks(monkeypatch, settings):
    """Callbacks to 127.0.0.1, signed with a known secret — here and in child processes."""
    for name, value in (("DIHYA_ALLOW_PRIVATE_WEBHOOKS", "1"), ("DIHYA_WEBHOOK_SECRET", SECRET)):
        monkeypatch.setenv(name, value)
    settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS = True
    settings.DIHYA_WEBHOOK_SECRET = SECRET


class Receiver(http.server.BaseHTTPRequestHandler):
    status = 200
    received: queue.Queue

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.put((dict(self.headers), body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args):
        pass


def receiver(status: int = 200):
    handler = type("R", (Receiver,), {"status": status, "received": queue.Queue()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler.received, f"http://127.0.0.1:{server.server_port}/hook"


@pytest.mark.engine
def test_it_runs_a_job_on_the_workers_and_calls_back_signed(webhooks, qcluster, api, llama,
                                                            dead_url, make_engine, make_route,
                                                            make_key):
    make_route("default", make_engine(dead_url, name="dead"), make_engine(llama, name="llama"))
    server, received, url = receiver()
    key = make_key()
    client = ApiClient.objects.get(name="app")
    secret = client.new_signing_secret()  # the client's own, not the shared SECRET
    client.save()

    submitted = httpx.post(api + "/api/v1/generations", headers=auth(key),
                           json={**HELLO, "callback_url": url})
    assert submitted.status_code == 202
    assert submitted.json()["status"] == "queued"
    job_id = submitted.json()["id"]
    assert submitted.headers["X-Dihya-Generation"] == job_id

    job = httpx.get(f"{api}/api/v1/generations/{job_id}?wait=30", headers=auth(key),
                    timeout=40).json()

    assert job["status"] == "succeeded", job
    assert job["result"].strip() and job["engine"] == "llama"
    assert job["usage"]["completion_tokens"] > 0
    assert [(a["engine"], a["outcome"]) for a in job["attempts"]] == [
        ("dead", "connect_error"), ("llama", "ok")]
    assert job["deliveries"] == 1 and job["error"] is None
    headers, body = received.get(timeout=60)
    server.shutdown()
    assert outbound.verify(body, headers[outbound.SIGNATURE_HEADER], secret)
    assert not outbound.verify(body, headers[outbound.SIGNATURE_HEADER], SECRET)
    assert not outbound.verify(body + b" ", headers[outbound.SIGNATURE_HEADER], secret)
    delivered = json.loads(body)
    assert delivered["id"] == job_id and delivered["status"] == "succeeded"
    assert delivered["dihya"] == {"kind": "job.callback", "client": "app", "url": url}
    assert delivered["result"] == job["result"]


def test_it_answers_a_long_poll_with_the_current_state_when_time_is_up(api, dead_url,
                                                                       make_engine, make_route,
                                                                       make_key):
    make_route("default", make_engine(dead_url))
    key = make_key()
    job_id = httpx.post(api + "/api/v1/generations", headers=auth(key), json=HELLO).json()["id"]

    job = httpx.get(f"{api}/api/v1/generations/{job_id}?wait=0.3", headers=auth(key)).json()

    assert job["status"] == "queued"  # no worker in this test
    assert job["result"] is None and job["usage"] is None and job["attempts"] == []
    response = httpx.get(f"{api}/api/v1/generations/{job_id}?wait=31", headers=auth(key))
    assert response.status_code == 400 and response.json()["error"]["param"] == "wait"


def test_it_caps_the_long_polls_of_one_key(api, dead_url, make_engine, make_route, make_key,
                                          settings):
    """Over DIHYA_MAX_WAITS_PER_KEY concurrent waits, a key's next wait is 429 at once: a
    client looping on `?wait=` would turn an immediate answer into a busy loop."""
    settings.DIHYA_MAX_WAITS_PER_KEY = 2
    make_route("default", make_engine(dead_url))
    key, other = make_key(), make_key("other")
    job_id = httpx.post(api + "/api/v1/generations", headers=auth(key), json=HELLO).json()["id"]
    url = f"{api}/api/v1/generations/{job_id}"
    waits = [threading.Thread(target=httpx.get, args=(url + "?wait=1.5",),
                              kwargs={"headers": auth(key), "timeout": 10}) for _ in range(2)]
    for wait in waits:
        wait.start()
    time.sleep(0.4)

    refused = httpx.get(url + "?wait=1.5", headers=auth(key))
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "too_many_waits"
    assert refused.headers["Retry-After"] == "1"
    assert httpx.get(url, headers=auth(key)).status_code == 200  # no wait: no cap
    other_id = httpx.post(api + "/api/v1/generations", headers=auth(other), json=HELLO).json()
    assert httpx.get(f"{api}/api/v1/generations/{other_id['id']}?wait=0.1",
                     headers=auth(other)).status_code == 200  # another key: its own cap
    for wait in waits:
        wait.join()
    assert httpx.get(url + "?wait=0.1", headers=auth(key)).status_code == 200


def test_it_cancels_a_queued_job_once(api, dead_url, make_engine, make_route, make_key):
    make_route("default", make_engine(dead_url))
    key = make_key()
    job_id = httpx.post(api + "/api/v1/generations", headers=auth(key), json=HELLO).json()["id"]

    cancelled = httpx.delete(f"{api}/api/v1/generations/{job_id}", headers=auth(key))
    again = httpx.delete(f"{api}/api/v1/generations/{job_id}", headers=auth(key))

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "generation_not_cancellable"
    assert Generation.objects.get().status == "cancelled"


def test_a_client_sees_only_its_own_jobs(api, dead_url, make_engine, make_route, make_key):
    make_route("default", make_engine(dead_url))
    mine, theirs = make_key("mine"), make_key("theirs")
    job_id = httpx.post(api + "/api/v1/generations", headers=auth(mine), json=HELLO).json()["id"]

    for path in (job_id, "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        for method in ("GET", "DELETE"):
            response = httpx.request(method, f"{api}/api/v1/generations/{path}",
                                     headers=auth(theirs))
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "generation_not_found"
    assert Generation.objects.get().status == "queued"


def test_it_refuses_bad_jobs_at_submission(api, dead_url, make_engine, make_route, make_key):
    make_route("default", make_engine(dead_url))
    key = make_key()

    for body, param in (({**HELLO, "stream": True}, "stream"),
                        ({**HELLO, "callback_url": "ftp://example.org/x"}, "callback_url"),
                        ({**HELLO, "callback_url": "http://127.0.0.1:9/hook"}, "callback_url"),
                        ({**HELLO, "callback_url": "http://h:99999/"}, "callback_url"),
                        ({**HELLO, "callback_url": "http://[::1/"}, "callback_url"),
                        ({**HELLO, "callback_url": "http://[2002:7f00:1::1]/"}, "callback_url"),
                        ({**HELLO, "model": 3}, "model")):
        response = httpx.post(api + "/api/v1/generations", headers=auth(key), json=body)
        assert response.status_code == 400, body
        assert response.json()["error"] == {**response.json()["error"],
                                            "code": "invalid_request", "param": param}
    assert not Generation.objects.exists()


def test_it_schedules_a_later_try_when_a_callback_fails(webhooks, db, monkeypatch):
    monkeypatch.setattr(deliveries, "hand_over", lambda pk, **kw: handed.append(kw))
    handed: list[dict] = []
    server, received, url = receiver(status=500)
    client = ApiClient(name="app")
    secret = client.new_signing_secret()
    client.save()
    generation = Generation.objects.create(source="job", route_name="default", status="failed",
                                           error_code="all_engines_failed", callback_url=url,
                                           client=client)
    callbacks.announce(generation.pk)
    delivery = Delivery.objects.get(generation_id=generation.pk)
    assert delivery.payload["error"]["code"] == "all_engines_failed"

    assert deliveries.deliver(str(delivery.pk)) == "pending"
    server.shutdown()
    headers, body = received.get(timeout=5)
    assert outbound.verify(body, headers[outbound.SIGNATURE_HEADER], secret)
    assert json.loads(body)["id"] == str(generation.pk)
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.response_code, delivery.error) == (1, 500, "HTTP 500")
    assert handed[-1] == {"at": delivery.next_attempt, "attempt": 2}
