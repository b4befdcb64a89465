"""Jobs accepted while the Redis broker is down run seconds after it is back, exactly once.

A real uvicorn child (the web process that accepts the jobs, and remembers the tasks Redis
refused) and a real qcluster child, both on a PRIVATE Redis of this test, killed and started
again (the machine's shared one is never touched), and on the test database. Before
`dihya.gateway.broker`, such jobs waited for the reaper's DIHYA_REAP_QUEUED_AFTER (5 to 6
minutes with the defaults).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from fallbacks.models import Route
from tests.api.fake_engine import FakeEngine, fake_engine  # noqa: F401 - a fixture
from tests.conftest import Process, child_env, free_port, wait_until
from tests.faults.servers import PrivateRedis

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"),
                                reason="redis-server is not installed")


@pytest.fixture
def redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    yield server
    server.kill()


@pytest.fixture
def children(transactional_db, redis, tmp_path) -> Iterator[tuple[str, Process, Process]]:
    """(base URL, web server, cluster) on the private Redis; the web process tries the broker
    again every 0.2 s (DIHYA_BROKER_RETRY)."""
    env = child_env(REDIS_URL=redis.url, DIHYA_Q_NAME="broker-outage", DIHYA_WORKERS="1",
                    DIHYA_BROKER_RETRY="0.2", DIHYA_AXES="false")
    port = free_port()
    web = Process([sys.executable, "-m", "uvicorn", "dihya.asgi:application", "--port",
                   str(port), "--log-level", "warning"], env=env, log=tmp_path / "web.log")
    cluster = Process([sys.executable, "manage.py", "qcluster"], env=env,
                      log=tmp_path / "qcluster.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.head(url + "/", timeout=2).status_code < 500, timeout=60,
                   what=lambda: "the web server:\n" + web.output()[-3000:])
        wait_until(lambda: "running" in cluster.output(), timeout=60,
                   what=lambda: "the cluster:\n" + cluster.output()[-3000:])
        yield url, web, cluster
    finally:
        web.stop()
        cluster.stop()


def test_a_job_accepted_while_redis_is_down_runs_as_soon_as_redis_is_back(
        children, redis, fake_engine: FakeEngine, make_engine, make_route):  # noqa: F811
    url, web, cluster = children
    make_route("r", make_engine(fake_engine.url, name="fake"), max_tokens=16)
    client = ApiClient.objects.create(name="app")
    client.routes.add(Route.objects.get(name="r"))
    raw = keys.issue(client)[1]
    redis.kill()

    accepted = httpx.post(url + "/api/v1/generations", timeout=30,
                          headers={"Authorization": f"Bearer {raw}"},
                          json={"model": "r", "messages": [{"role": "user", "content": "Hi"}]})
    assert accepted.status_code == 202, accepted.text
    gid = accepted.json()["id"]
    wait_until(lambda: "sent again as soon as it answers" in web.output(), timeout=10,
               what=lambda: "the broker's refusal:\n" + web.output()[-3000:])
    time.sleep(1.0)  # down a while: nothing runs, nothing is lost
    assert Generation.objects.get(pk=gid).status == "queued"

    redis.start()
    wait_until(lambda: Generation.objects.get(pk=gid).is_terminal, timeout=30,
               what=lambda: "the job:\n" + web.output()[-2000:] + cluster.output()[-3000:])
    job = Generation.objects.get(pk=gid)
    assert job.status == "succeeded", job.error_message
    assert job.deliveries == 1
    assert [a.outcome for a in job.attempts.all()] == ["ok"]
    assert len(fake_engine.requests) == 1
    assert "sent again" in web.output()
