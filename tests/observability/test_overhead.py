"""X-Dihya-Overhead-Ms leaves the engine's time out, streamed or not."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.observability.conftest import SLOW


@pytest.mark.parametrize("stream", [False, True])
def test_the_overhead_header_excludes_the_engine(api, fake_engine, make_engine, make_route,
                                                 make_key, stream):
    make_route("default", make_engine(fake_engine, name="fake"), max_tokens=16)
    key = make_key()
    started = time.perf_counter()
    with httpx.stream("POST", api + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {key}"},
                      json={"model": "default", "stream": stream,
                            "messages": [{"role": "user", "content": "answer slowly"}]}) as r:
        headers_after = time.perf_counter() - started
        r.read()

    assert r.status_code == 200
    overhead = float(r.headers["X-Dihya-Overhead-Ms"]) / 1000
    assert headers_after >= SLOW
    assert 0 <= overhead <= headers_after - SLOW + 0.005
