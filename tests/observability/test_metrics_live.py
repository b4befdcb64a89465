"""GET /metrics scraped from two uvicorn processes and a real django-q2 cluster.

Every process writes its samples to one multiprocess directory (the children inherit this test
process's PROMETHEUS_MULTIPROC_DIR); either web process's /metrics adds them all up.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest

from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from fallbacks import breaker_control
from fallbacks.models import Route
from quotas.models import Assignment, Limit, Plan
from tests.conftest import Process, child_env, free_port, wait_until
from tests.observability.conftest import scrape, settled, value

TOKEN = "metrics-test-token"
MARKER = "Zq7-observability-marker"


@pytest.fixture
def gateways(transactional_db, tmp_path) -> Iterator[list[str]]:
    """Base URLs of two uvicorn processes serving Dihya on the test database."""
    env = child_env(DIHYA_METRICS_TOKEN=TOKEN, DIHYA_KEY_CACHE_SECONDS="0",
                    DIHYA_PLAN_CACHE_SECONDS="0")
    processes, urls = [], []
    for n in range(2):
        port = free_port()
        processes.append(Process([sys.executable, "-m", "uvicorn", "dihya.asgi:application",
                                  "--port", str(port), "--log-level", "warning"],
                                 env=env, log=tmp_path / f"uvicorn-{n}.log"))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            wait_until(lambda url=url: httpx.get(url + "/metrics", timeout=1).status_code,
                       timeout=30, what="uvicorn")
        yield urls
    finally:
        for p in processes:
            p.stop()


def chat(base: str, key: str, content: str = "Say hello", **extra: object) -> httpx.Response:
    return httpx.post(base + "/v1/chat/completions", timeout=30,
                      headers={"Authorization": f"Bearer {key}"},
                      json={"model": "default", "messages": [{"role": "user", "content": content}],
                            "max_tokens": 8, **extra})


def test_counters_add_up_across_processes(gateways, qcluster, fake_engine, dead_url,
                                          make_engine, make_route):
    dead = make_engine(dead_url, name="dead")
    make_route("default", dead, make_engine(fake_engine, name="fake"), max_tokens=16)
    app = ApiClient.objects.create(name="app")
    app.routes.add(*Route.objects.all())
    key = keys.issue(app)[1]
    before = scrape(gateways[0], TOKEN)

    calls = 6
    for n in range(calls):
        answer = chat(gateways[n % 2], key, f"{MARKER} {n}", user=f"person-{MARKER}",
                      stream=n % 3 == 0)
        assert answer.status_code == 200, answer.text
        overhead = float(answer.headers["X-Dihya-Overhead-Ms"])
        assert 0 <= overhead < 1000
    jobs = [httpx.post(gateways[n % 2] + "/api/v1/generations", timeout=30,
                       headers={"Authorization": f"Bearer {key}"},
                       json={"model": "default", "max_tokens": 8,
                             "messages": [{"role": "user", "content": MARKER}]})
            for n in range(2)]
    assert [j.status_code for j in jobs] == [202, 202]
    wait_until(lambda: Generation.objects.filter(source="job", status="succeeded").count() == 2,
               timeout=60, what="the workers to run both jobs")
    chat_labels = {"route": "default", "client": "app", "source": "chat", "status": "succeeded"}
    after = settled(gateways[1], TOKEN, "dihya_generations_total", chat_labels, calls, before)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("dihya_generations_total", **chat_labels) == calls
    assert moved("dihya_generations_total", **{**chat_labels, "source": "job"}) == 2
    assert moved("dihya_fallbacks_total", route="default") == calls + 2
    assert moved("dihya_attempts_total", engine="fake", outcome="ok") == calls + 2
    # The dead engine: refused connections until each process's breaker opens, then skipped.
    assert moved("dihya_attempts_total", engine="dead", outcome="connect_error") >= 3
    assert (moved("dihya_attempts_total", engine="dead", outcome="connect_error")
            + moved("dihya_attempts_total", engine="dead", outcome="circuit_open")) == calls + 2
    assert moved("dihya_generation_duration_seconds_count", route="default") == calls + 2
    assert moved("dihya_time_to_first_token_seconds_count", route="default",
                 engine="fake") == calls + 2
    assert moved("dihya_tokens_total", route="default", engine="fake",
                 kind="completion") == 5 * (calls + 2)
    assert moved("dihya_overhead_seconds_count") >= calls + 2
    assert value(after, "dihya_jobs", status="queued") == 0
    assert ("dihya_oldest_queued_job_age_seconds", frozenset()) in after

    everything = httpx.get(gateways[0] + "/metrics", timeout=10,
                           headers={"Authorization": f"Bearer {TOKEN}"}).text
    assert MARKER not in everything and "person" not in everything
    assert key not in everything and key[:12] not in everything


def test_a_forced_open_breaker_shows_as_2(gateways, make_engine):
    engine = make_engine("http://127.0.0.1:9/v1", name="flaky")
    make_engine("http://127.0.0.1:9/v1", name="steady")
    breaker_control.force(engine, "open", actor="test", reason="maintenance")

    samples = scrape(gateways[0], TOKEN)

    assert value(samples, "dihya_breaker_state", engine="flaky") == 2
    assert value(samples, "dihya_breaker_state", engine="steady") == 0


def test_a_quota_refusal_counts(gateways, fake_engine, make_engine, make_route):
    make_route("default", make_engine(fake_engine, name="fake"), max_tokens=16)
    capped = ApiClient.objects.create(name="capped")
    capped.routes.add(*Route.objects.all())
    plan = Plan.objects.create(name="tiny")
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=1, hard=True)
    Assignment.objects.create(plan=plan, client=capped)
    key = keys.issue(capped)[1]
    before = scrape(gateways[0], TOKEN)

    assert chat(gateways[0], key).status_code == 200
    refused = chat(gateways[1], key)

    assert refused.status_code == 429
    assert "X-Dihya-Overhead-Ms" in refused.headers
    after = settled(gateways[1], TOKEN, "dihya_quota_refusals_total", {"plan": "tiny"}, 1, before)
    assert (value(after, "dihya_quota_refusals_total", plan="tiny")
            - value(before, "dihya_quota_refusals_total", plan="tiny")) == 1
    assert value(after, "dihya_quota_used_ratio", plan="tiny", subject_kind="client",
                 window="day") == 1.0


def test_metrics_want_the_token(gateways):
    assert httpx.get(gateways[0] + "/metrics").status_code == 401
    wrong = httpx.get(gateways[0] + "/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_metrics_token"
    assert httpx.get(gateways[0] + "/metrics", headers={
        "Authorization": f"Bearer {TOKEN}"}).status_code == 200
