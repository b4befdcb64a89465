"""Case 7: Redis and PostgreSQL restarted under load.

The gateway runs as a real uvicorn child process on PRIVATE Redis and PostgreSQL servers of
this test (free ports, a temporary directory): the machine's shared servers serve other
processes and are never restarted. While a few clients keep calling, one server is restarted;
every answer must be a 200 with text or a clean OpenAI-shaped 503 (never a 500, an HTML page
or a dropped connection), and the gateway must serve 200s again by itself.

The private PostgreSQL is used on both CI legs when its binaries are installed (the Redis case
falls back to a SQLite file otherwise); each case is skipped, with its reason, when the server
it restarts cannot be started.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Process, child_env, free_port, wait_until
from tests.faults.servers import PrivatePostgres, PrivateRedis

pytestmark = pytest.mark.engine

CLEAN_CODES = {"service_unavailable", "database_unavailable"}


@dataclass
class Servers:
    where: Path
    redis: PrivateRedis
    postgres: PrivatePostgres | None
    no_postgres: str = ""


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    # Not under /tmp/pytest-of-root, which the postgres user cannot enter.
    where = Path(tempfile.mkdtemp(prefix="dihya-restarts-"))
    redis = postgres = None
    try:
        redis = PrivateRedis(where)
        try:
            postgres = PrivatePostgres(where)
            yield Servers(where, redis, postgres)
        except pytest.skip.Exception as why:
            yield Servers(where, redis, None, str(why))
    finally:
        if redis is not None:
            redis.kill()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(where, ignore_errors=True)


def manage(env: dict[str, str], *args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], input=stdin.encode(), env=env,
                          cwd=ROOT, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return done.stdout.decode().strip()


@pytest.fixture(scope="module")
def env(servers) -> dict[str, str]:
    """The environment of the gateway and its management commands on the private servers."""
    db = (servers.postgres.url if servers.postgres
          else f"sqlite:///{servers.where / 'gateway.sqlite3'}")
    return child_env(DATABASE_URL=db, REDIS_URL=servers.redis.url, DIHYA_Q_NAME="q-restarts",
                     CONN_MAX_AGE="60", DIHYA_AXES="false")


@pytest.fixture(scope="module")
def gateway(servers, env, llama) -> Iterator[tuple[str, str]]:
    """(base URL, API key) of a uvicorn child process on the private servers."""
    where = servers.where
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "config", "apply", "-", stdin=(
        f"engines:\n  - {{name: llama, provider: openai, base_url: '{llama}',"
        " model: smollm2-135m}\n"
        "routes:\n  - {name: r, engines: [llama], max_tokens: 4}\n"))
    key = manage(env, "create_api_key", "load", "--route", "r").splitlines()[-1]
    port = free_port()
    server = Process([sys.executable, "-m", "uvicorn", "dihya.asgi:application", "--port",
                      str(port), "--log-level", "warning"], env=env, log=where / "uvicorn.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: ask(url, key)[0] == "ok", timeout=30, what="the gateway")
        yield url, key
    except AssertionError:
        raise AssertionError("the gateway did not serve:\n" + server.output()[-3000:]) from None
    finally:
        server.stop()


def ask(url: str, key: str, stream: bool = False) -> tuple[str, str]:
    """One call → ("ok", text) or ("refused", code); anything unclean raises AssertionError."""
    body = {"model": "r", "messages": [{"role": "user", "content": "Say hi"}], "stream": stream}
    try:
        response = httpx.post(url + "/v1/chat/completions", json=body, timeout=30,
                              headers={"Authorization": f"Bearer {key}"})
    except httpx.HTTPError as exc:
        raise AssertionError(f"the connection failed: {exc!r}") from None
    text = response.text
    if response.status_code == 200 and stream:
        events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
        assert events, text
        if events[-1] == "[DONE]":
            return "ok", "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                                 for e in events[:-1] if json.loads(e)["choices"])
        error = json.loads(events[-1])["error"]
        assert error["code"] in CLEAN_CODES, text
        return "refused", error["code"]
    if response.status_code == 200:
        content = response.json()["choices"][0]["message"]["content"]
        assert content, text
        return "ok", content
    assert response.status_code == 503, f"{response.status_code}: {text[:2000]}"
    assert response.headers["content-type"].startswith("application/json"), text[:2000]
    error = response.json()["error"]
    assert error["code"] in CLEAN_CODES and error["type"] == "service_unavailable", text
    assert "Traceback" not in text
    return "refused", error["code"]


def under_load(url: str, key: str, restart, *, calls: int = 40) -> list[tuple[str, str]]:
    """`calls` calls from 4 clients (one in four streamed) while `restart()` runs."""
    results: list[tuple[str, str]] = []
    failures: list[str] = []
    started = threading.Event()

    def client(n: int) -> None:
        for i in range(calls // 4):
            try:
                results.append(ask(url, key, stream=(n == 0)))
            except AssertionError as exc:
                failures.append(str(exc))
            if i == 2:
                started.set()

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client, n) for n in range(4)]
        started.wait(30)
        restart()
        for future in futures:
            future.result()
    assert not failures, failures[:3]
    return results


def recovers(url: str, key: str) -> None:
    wait_until(lambda: ask(url, key)[0] == "ok" and ask(url, key, stream=True)[0] == "ok",
               timeout=30, interval=0.2, what="the gateway to serve again")


def test_a_redis_restart_under_load_fails_nothing_uncleanly(gateway, servers):
    url, key = gateway
    redis = servers.redis

    def restart() -> None:
        redis.kill()
        time.sleep(1.0)  # calls keep coming while Redis is down
        redis.start()

    results = under_load(url, key, restart)
    assert {kind for kind, _ in results} <= {"ok", "refused"}
    recovers(url, key)


def test_a_postgresql_restart_under_load_fails_cleanly_and_recovers(gateway, servers):
    if servers.postgres is None:
        pytest.skip(servers.no_postgres)
    url, key = gateway
    results = under_load(url, key, servers.postgres.restart)
    assert {kind for kind, _ in results} <= {"ok", "refused"}
    recovers(url, key)


def test_a_quota_stays_exact_across_a_redis_restart(gateway, servers, env):
    """The quota tally lives in Redis, which keeps nothing on disk: restarted, it has lost every
    count, and the database's (settled calls plus open reservations) must take their place."""
    url, _ = gateway
    manage(env, "config", "apply", "-", stdin=(
        "plans:\n  - {name: eight-a-day, limits: [{requests: 8, per: day}]}\n"
        "clients:\n  - {name: counted, plan: eight-a-day, routes: [r]}\n"))
    key = manage(env, "create_api_key", "counted", "--route", "r").splitlines()[-1]

    def call() -> int:
        return httpx.post(url + "/v1/chat/completions", timeout=30, json={
            "model": "r", "messages": [{"role": "user", "content": "Say hi"}]},
            headers={"Authorization": f"Bearer {key}"}).status_code

    assert [call() for _ in range(5)] == [200] * 5
    servers.redis.kill()
    assert call() == 503  # unchecked, it could overshoot the plan: refused cleanly meanwhile
    servers.redis.start()
    wait_until(lambda: call() != 503, timeout=30, interval=0.2, what="Redis to be back")

    # That call was the sixth: two more of the eight, then refusals — none lost, none extra.
    assert [call() for _ in range(4)] == [200, 200, 429, 429]
