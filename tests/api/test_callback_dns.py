"""A callback domain whose DNS hangs costs its own submission a bounded wait, and nobody else
anything: names resolve off the database threads, under a deadline."""

from __future__ import annotations

import socket
import threading
import time

import httpx

from dihya.lib import outbound

HELLO = {"model": "default", "messages": [{"role": "user", "content": "Say hello"}],
         "max_tokens": 8}
real_getaddrinfo = socket.getaddrinfo


def test_hanging_callback_domains_stall_nobody_else(api, dead_url, make_engine, make_route,
                                                   make_key, monkeypatch, settings):
    settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS = False
    release = threading.Event()

    def getaddrinfo(host, *args, **kwargs):
        if str(host).endswith(".hang.test"):
            release.wait(15)
            raise socket.gaierror("gave up")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(outbound, "RESOLVE_TIMEOUT", 1.0, raising=False)
    make_route("default", make_engine(dead_url))
    key = {"Authorization": f"Bearer {make_key()}"}
    answers: list[httpx.Response] = []

    def submit(n: int) -> None:
        answers.append(httpx.post(api + "/api/v1/generations", headers=key, timeout=30,
                                  json={**HELLO, "callback_url": f"https://h{n}.hang.test/"}))

    hanging = [threading.Thread(target=submit, args=(n,)) for n in range(6)]
    try:
        for thread in hanging:
            thread.start()
        time.sleep(0.3)
        started = time.monotonic()
        plain = httpx.post(api + "/api/v1/generations", headers=key, json=HELLO, timeout=30)
        took = time.monotonic() - started
        for thread in hanging:
            thread.join(10)
    finally:
        release.set()

    assert plain.status_code == 202 and took < 0.8, took
    assert len(answers) == 6
    for answer in answers:
        assert answer.status_code == 400
        assert answer.json()["error"]["param"] == "callback_url"
        assert "did not resolve within" in answer.json()["error"]["message"]
