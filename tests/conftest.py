"""Fixtures shared by the whole suite: real engines, dead ports, real workers, live servers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.db import connection

from fallbacks import local_engine
from fallbacks.models import Engine, Route, RouteEngine

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05,
               what: str | Callable[[], str] = "it"):
    """Poll `predicate` until it is truthy; `what` may be a callable, read only on failure
    (a child's log read when the wait began says nothing of why it ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # not up yet
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for "
                         f"{what() if callable(what) else what}")


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child process that must see the test database, not the dev one.

    The child runs the production settings (manage.py's default), not tests/settings.py: what
    it must do differently, the test says here, through the environment."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    else:
        user = db.get("USER") or ""
        auth = f"{user}:{db.get('PASSWORD') or ''}@" if user else ""
        env["DATABASE_URL"] = (f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:"
                               f"{db.get('PORT') or 5432}/{db['NAME']}")
    env.setdefault("SECRET_KEY", "test-only-secret-key-for-child-processes")
    from django.conf import settings

    env["SECRET_KEY"] = settings.SECRET_KEY
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Process:
    def __init__(self, args: list[str], env: dict[str, str] | None = None, log: Path | None = None):
        self.log = log
        out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env or child_env(), stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        """SIGTERM to the child alone, then SIGKILL to what is left of its process group.

        The child alone first: it stops its own processes in order (a qcluster's sentinel
        stops its pusher, lets its workers finish their task, then its monitor). A SIGTERM to
        the whole group kills the sentinel at once (django-q2 leaves it the default action),
        possibly in the middle of a wait on the event the cluster then sets to stop it: the
        cluster waited for it forever, and each test paid the 10 s below. The group then: a
        qcluster's workers outliving it would take later tests' tasks from the shared broker
        queue."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self.kill()

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(5)

    def kill_all(self, timeout: float = 10.0) -> None:
        """SIGKILL to the whole group, and wait until none of its processes is alive.

        Waiting for the child alone is not enough: a qcluster's pusher may still be blocked in
        Redis' BLPOP for a moment after its parent is gone, and Redis hands the next task
        pushed meanwhile to that dying client (the Redis broker keeps no receipt): a test that
        re-sends work right after the kill would lose it to the corpse."""
        import psutil

        self.kill()

        def gone() -> bool:
            for proc in psutil.process_iter():
                try:
                    if (os.getpgid(proc.pid) == self.proc.pid
                            and proc.status() != psutil.STATUS_ZOMBIE):
                        return False
                except (psutil.Error, ProcessLookupError, PermissionError):
                    continue
            return True

        wait_until(gone, timeout=timeout, what="every process of the group to end")
        time.sleep(0.3)  # and for the broker to read the closed connections

    def _signal(self, sig: int) -> None:
        # start_new_session: the group is the child's pid; gone when every process of it ended
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


def start_llama(tmp_path_factory, *, slots: int = 4,
                embeddings: bool = False) -> tuple[Process, str]:
    port = free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    proc = Process([sys.executable, "manage.py", "serve_local_engine", "--port", str(port),
                    "--slots", str(slots), *(["--embeddings"] if embeddings else [])],
                   env=child_env(), log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(base + "/health", timeout=1).status_code == 200,
                   timeout=60, what="the llama.cpp server")
    except AssertionError:
        proc.stop()
        raise AssertionError("llama.cpp did not start:\n" + proc.output()[-2000:]) from None
    return proc, base + "/v1"


@pytest.fixture(scope="session")
def llama(tmp_path_factory) -> Iterator[str]:
    """Base URL (…/v1) of a real llama.cpp server running SmolLM2 for the whole session."""
    if not local_engine.available():
        pytest.skip("the local engine is not installed (make test installs it)")
    proc, url = start_llama(tmp_path_factory)
    yield url
    proc.stop()


@dataclass(frozen=True)
class EmbeddingEngine:
    url: str  # …/v1
    model: str
    dimension: int


@pytest.fixture(scope="session")
def embedding_engine(tmp_path_factory) -> Iterator[EmbeddingEngine]:
    """A second real llama.cpp server, SmolLM2 in embedding mode (`--embeddings`, mean
    pooling): /v1/embeddings answers 576 floats per input and ignores `dimensions`."""
    if not local_engine.available():
        pytest.skip("the local engine is not installed (make test installs it)")
    proc, url = start_llama(tmp_path_factory, slots=2, embeddings=True)
    yield EmbeddingEngine(url, local_engine.EMBEDDING_ALIAS, local_engine.EMBEDDING_DIMENSION)
    proc.stop()


@pytest.fixture(autouse=True)
def _forget_breakers():
    """Breakers live in process memory too; a test must not inherit another's (ids repeat)."""
    from fallbacks import breaker

    breaker.health().forget()
    yield
    breaker.health().forget()


@pytest.fixture(autouse=True)
def _forget_plans():
    """Quota plans are remembered per process by client id, and ids repeat between tests."""
    from quotas import plans

    plans.clear()
    yield
    plans.clear()


@pytest.fixture(autouse=True)
def _forget_quota_tally(request, settings, monkeypatch):
    """The quota tally lives in Redis, which a test's rollback does not touch, and subjects
    (client ids) repeat between tests. A test inside one transaction (`db`) never commits, so
    what the ledger moves in Redis after a commit moves at once there, as a commit would."""
    from quotas import ledger, tally

    if settings.DIHYA_QUOTA_TALLY:
        tally.forget_all()
        if not {"transactional_db", "live_server"} & set(request.fixturenames):
            monkeypatch.setattr(ledger._Moves, "after_commit", staticmethod(lambda fn: fn()))
    yield


@pytest.fixture(autouse=True)
def _forget_routes():
    """Route snapshots and people are remembered per process by name; a test's rollback
    deletes its rows without a signal, and the next test may create one of the same name."""
    from dihya.generation import identity
    from fallbacks import catalog

    catalog._remembered.clear()
    identity.remembered.clear()
    yield
    catalog._remembered.clear()
    identity.remembered.clear()


@pytest.fixture
def dead_url() -> str:
    """A URL on which nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}/v1"


@pytest.fixture
def make_route(db):
    """make_route("name", engine, engine, …) with engines as (name, provider, base_url)."""

    def make(name: str, *engines: Engine, max_tokens: int | None = None) -> Route:
        route = Route.objects.create(name=name, max_tokens=max_tokens)
        for position, engine in enumerate(engines):
            RouteEngine.objects.create(route=route, engine=engine, position=position)
        return route

    return make


@pytest.fixture
def make_engine(db):
    counter = iter(range(10_000))

    def make(base_url: str, *, provider: str = "openai", model: str = "smollm2-135m",
             name: str | None = None, **fields) -> Engine:
        fields.setdefault("connect_timeout", 2.0)
        fields.setdefault("read_timeout", 60.0)  # a busy 2-core CI machine can be slow
        return Engine.objects.create(name=name or f"engine-{next(counter)}", provider=provider,
                                     base_url=base_url, model=model, **fields)

    return make


@pytest.fixture
def qcluster(transactional_db, tmp_path) -> Iterator[Process]:
    """A real django-q2 cluster (separate processes) on the test database and broker.

    The broker's queue is emptied first: with Redis it outlives the tests, and tasks earlier
    tests left there (a callback to a dead address retried, a job whose row is gone) are no
    work of this test's, yet would hold its two workers."""
    from django_q.brokers import get_broker

    get_broker().purge_queue()
    proc = Process([sys.executable, "manage.py", "qcluster"],
                   env=child_env(DIHYA_WORKERS="2"), log=tmp_path / "qcluster.log")
    time.sleep(0.5)
    if proc.proc.poll() is not None:
        raise AssertionError("qcluster died at start:\n" + proc.output())
    yield proc
    proc.stop()


def recorded() -> None:
    """Let this process's recorder write what it queued.

    The server records the end of a call after its answer has left (DIHYA_RECORDER=batched,
    production's default): a test that reads the rows of a call it just made waits for them
    here, as an operator's next page load would."""
    from dihya.generation import recorder

    assert recorder.flush(), "the recorder did not write its queue in time"
