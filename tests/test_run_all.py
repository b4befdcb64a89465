"""`make run` (scripts/run-all.sh): one Ctrl-C stops the engines, the workers and the web server.

Tested the way a person uses it: the script starts exactly as `make run` starts it (`bash
scripts/run-all.sh` with HOST/PORT/ENGINE_PORT/WORKERS/BIN), in a process group of its own
standing for the terminal's foreground group, on the test database. Once the web server
answers, one chat completion is served by uvicorn and one queued generation by a django-q2
worker, both through the script's real llama.cpp engine, and one embeddings call through its
second llama.cpp (embedding mode); then SIGINT goes to the whole process group, as Ctrl-C
does, and every process the script started (both engines, the cluster and its forked workers,
uvicorn) must be gone within 5 s. Ten times in a row: a stop that
works most of the time is the defect this guards against.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from dihya.generation import jobs, pipeline
from dihya.generation.requests import ChatBody
from fallbacks import local_engine
from fallbacks.models import Route
from tests.conftest import ROOT, child_env, free_port, wait_until

pytestmark = pytest.mark.engine

# Each round starts the whole of `make run` (two llama.cpp servers, workers, web) and stops it
# with one Ctrl-C: three rounds in the suite (about a minute); DIHYA_RUN_ALL_ROUNDS=20 (say)
# for a soak before touching scripts/run-all.sh.
ROUNDS = int(os.environ.get("DIHYA_RUN_ALL_ROUNDS", "3"))
STOP_WITHIN = 5.0  # seconds from Ctrl-C until nothing of the script is left


@pytest.fixture(autouse=True)
def _needs_the_local_engine():
    if not local_engine.available():
        pytest.skip("the local engine is not installed (make test installs it)")


def session_members(sids: set[int]) -> list[psutil.Process]:
    """Every live process of these sessions."""
    found = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) in sids and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
    return found


def describe(procs: list[psutil.Process]) -> str:
    lines = []
    for proc in procs:
        try:
            lines.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.Error:
            lines.append(f"{proc.pid} (gone)")
    return "; ".join(lines)


class RunAll:
    """One `bash scripts/run-all.sh`, started as `make run` starts it."""

    def __init__(self, log_dir: Path, port: int, engine_port: int, embed_port: int | None = None,
                 **extra_env: str) -> None:
        self.port, self.engine_port, self.log_dir = port, engine_port, log_dir
        self.embed_port = embed_port or free_port()
        log_dir.mkdir(parents=True)
        self.out = open(log_dir / "script.out", "wb")  # noqa: SIM115
        env = child_env(HOST="127.0.0.1", PORT=str(port), ENGINE_PORT=str(engine_port),
                        EMBED_PORT=str(self.embed_port), WORKERS="2",
                        BIN=str(Path(sys.executable).parent), LOG_DIR=str(log_dir),
                        # Its own: the script empties it at start, and this test process's
                        # (another test's /metrics, under xdist the other worker's) must stay.
                        PROMETHEUS_MULTIPROC_DIR=str(log_dir / "metrics"), **extra_env)
        # A new session: its process group stands for the terminal's foreground group.
        self.proc = subprocess.Popen(["bash", "scripts/run-all.sh"], cwd=ROOT, env=env,
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.sessions = {self.proc.pid}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        self.out.flush()
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}"
                         for path in sorted(self.log_dir.glob("*")) if path.is_file())

    def wait_until_up(self) -> None:
        try:
            wait_until(lambda: httpx.get(self.url + "/v1/models", timeout=1).status_code,
                       timeout=60, what="the web server")
            for port, what in ((self.engine_port, "the local engine"),
                               (self.embed_port, "the local embedding engine")):
                wait_until(lambda port=port: httpx.get(f"http://127.0.0.1:{port}/health",
                                                       timeout=1).status_code == 200,
                           timeout=60, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def members(self) -> list[psutil.Process]:
        """The script, its descendants, and anything else in a session one of them is in (a
        child may be given a session of its own; what it forks stays in it)."""
        found = []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            found = [root, *root.children(recursive=True)]
        for proc in found:
            with contextlib.suppress(OSError):
                self.sessions.add(os.getsid(proc.pid))
        return found + [p for p in session_members(self.sessions) if p not in found]

    def stopped_by(self, *actions, pause: float = 0.0) -> tuple[float, list[psutil.Process]]:
        """Run each action (`pause` seconds apart): how long from the first until all of the
        script was gone, or what was still running after STOP_WITHIN seconds."""
        started = self.members()
        t0 = time.monotonic()
        for n, action in enumerate(actions):
            if n:
                time.sleep(pause)
            action()
        # Polled rather than psutil.wait_procs: an orphan killed at the end may stay a zombie
        # for a while, until the machine's init reaps it; a zombie runs nothing.
        deadline = t0 + STOP_WITHIN
        while (alive := [p for p in started if alive_and_not_zombie(p)]) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        took = time.monotonic() - t0
        alive += [p for p in session_members(self.sessions) if p not in alive]
        return took, alive

    def ctrl_c(self) -> None:
        """What Ctrl-C in a terminal does: SIGINT to the foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def clean_up(self) -> None:
        left = self.members()
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(left, timeout=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        self.out.close()


def alive_and_not_zombie(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def queue_a_generation(route: str) -> Generation:
    """What `manage.py generate PROMPT --route ROUTE --wait 0` does."""
    body = ChatBody(model=route, messages=[{"role": "user", "content": "Say hello"}],
                    max_tokens=4)
    generation = pipeline.admit(pipeline.Caller(client=None, source=Generation.Source.COMMAND),
                                body, queued=True).generation
    jobs.enqueue(generation)
    return generation


def wait_until_served(generation: Generation) -> None:
    wait_until(lambda: Generation.objects.get(pk=generation.pk).is_terminal, timeout=60,
               what="a worker to run the queued generation")
    generation.refresh_from_db()
    assert generation.status == Generation.Status.SUCCEEDED, generation.error_message
    assert generation.result.strip()


def test_ctrl_c_stops_everything_every_time(transactional_db, tmp_path, make_engine,
                                            make_route):
    engine = make_engine("http://127.0.0.1:1/v1", name="llama-local")
    make_route("local", engine)
    embedder = make_engine("http://127.0.0.1:1/v1", name="smollm2-embed",
                           model=local_engine.EMBEDDING_ALIAS, capabilities=["embeddings"])
    make_route("embed", embedder)
    client = ApiClient.objects.create(name="run-all")
    client.routes.add(*Route.objects.filter(name__in=["local", "embed"]))
    key = keys.issue(client)[1]

    failures, times = [], []
    for n in range(ROUNDS):
        port, engine_port, embed_port = free_port(), free_port(), free_port()
        engine.base_url = f"http://127.0.0.1:{engine_port}/v1"
        engine.save()
        embedder.base_url = f"http://127.0.0.1:{embed_port}/v1"
        embedder.save()
        run = RunAll(tmp_path / f"round-{n}", port, engine_port, embed_port)
        try:
            run.wait_until_up()
            # A queued generation for a django-q2 worker, and meanwhile a chat completion
            # served by uvicorn: both through the script's engine.
            job = queue_a_generation("local")
            answer = httpx.post(run.url + "/v1/chat/completions", timeout=60,
                                headers={"Authorization": f"Bearer {key}"},
                                json={"model": "local", "max_tokens": 4,
                                      "messages": [{"role": "user", "content": "Say hello"}]})
            assert answer.status_code == 200, f"round {n}: {answer.text}\n{run.logs()}"
            assert answer.json()["choices"][0]["message"]["content"].strip()
            embedded = httpx.post(run.url + "/v1/embeddings", timeout=60,
                                  headers={"Authorization": f"Bearer {key}"},
                                  json={"model": "embed", "input": "Say hello"})
            assert embedded.status_code == 200, f"round {n}: {embedded.text}\n{run.logs()}"
            assert len(embedded.json()["data"][0]["embedding"]) == \
                local_engine.EMBEDDING_DIMENSION
            wait_until_served(job)

            took, left = run.stopped_by(run.ctrl_c)
            times.append(took)
            if left:
                failures.append(f"round {n}: after {took:.1f}s still running: {describe(left)}")
        finally:  # whatever happened, nothing of this round outlives it
            run.clean_up()
    print(f"Ctrl-C took {', '.join(f'{t:.1f}' for t in times)} s")
    assert not failures, (f"{len(failures)} of {ROUNDS} Ctrl-C left processes behind:\n"
                          + "\n".join(failures))


@pytest.fixture
def black_hole() -> Iterator[str]:
    """Base URL of an "engine" that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                held.append(listener.accept()[0])

    threading.Thread(target=accept, name="black-hole", daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    listener.close()
    for conn in held:
        conn.close()


@pytest.fixture
def stuck_job(transactional_db, black_hole, make_engine, make_route):
    """start(run) → a queued generation that a worker of `run` is stuck on (its engine never
    answers): the cluster cannot stop cleanly until it gives up, minutes later."""
    make_route("stuck", make_engine(black_hole, name="black-hole", read_timeout=600.0))

    def start(run: RunAll) -> Generation:
        job = queue_a_generation("stuck")
        wait_until(lambda: Generation.objects.get(pk=job.pk).status == "running", timeout=30,
                   what="a worker to take the job")
        return job

    return start


def test_a_stuck_worker_is_killed_after_the_grace(tmp_path, stuck_job):
    run = RunAll(tmp_path / "run", free_port(), free_port())
    try:
        run.wait_until_up()
        stuck_job(run)
        took, left = run.stopped_by(run.ctrl_c)
        assert not left, f"after {took:.1f}s still running: {describe(left)}"
        assert "still running after 3s: killing" in run.logs()
    finally:
        run.clean_up()


def test_a_second_ctrl_c_kills_at_once(tmp_path, stuck_job):
    run = RunAll(tmp_path / "run", free_port(), free_port(), STOP_GRACE="60")
    try:
        run.wait_until_up()
        stuck_job(run)
        took, left = run.stopped_by(run.ctrl_c, run.ctrl_c, pause=0.5)
        assert not left, f"after {took:.1f}s still running: {describe(left)}"
        assert took < 2.0, f"the second Ctrl-C took {took - 0.5:.1f}s"
    finally:
        run.clean_up()


def test_when_one_process_dies_the_others_are_stopped(tmp_path, transactional_db):
    """The cluster's main process killed: its workers and the other children go too."""
    run = RunAll(tmp_path / "run", free_port(), free_port())
    try:
        run.wait_until_up()
        cluster = next(p for p in psutil.Process(run.proc.pid).children()
                       if "qcluster" in p.cmdline())
        wait_until(lambda: len(cluster.children(recursive=True)) >= 4, timeout=30,
                   what="the cluster's processes")  # sentinel, monitor, pusher, workers
        took, left = run.stopped_by(cluster.kill)
        assert not left, f"after {took:.1f}s still running: {describe(left)}"
        assert run.proc.wait(5) != 0
    finally:
        run.clean_up()


# sitecustomize for the web server's environment: importing dihya.asgi takes SLOW_IMPORT
# seconds, or fails when SLOW_IMPORT is "fail" — what a busy machine (or a broken install) does
# to the first start. Test-only: it lives in the test's temporary directory, on PYTHONPATH.
SLOW_IMPORT_SHIM = '''
import os, sys, time

class SlowImport:
    def find_spec(self, name, path=None, target=None):
        if name == "dihya.asgi":
            sys.meta_path.remove(self)
            if os.environ["SLOW_IMPORT"] == "fail":
                raise ImportError("the test made importing dihya.asgi fail")
            time.sleep(float(os.environ["SLOW_IMPORT"]))
        return None

if os.environ.get("SLOW_IMPORT"):
    sys.meta_path.insert(0, SlowImport())
'''


def slow_import_env(tmp_path: Path, slow: str) -> dict[str, str]:
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SLOW_IMPORT_SHIM)
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "SLOW_IMPORT": slow}


def test_it_waits_for_a_web_server_that_imports_slowly(tmp_path, transactional_db):
    """uvicorn busy importing Dihya for 12 s (it took 8.5-22 s on a busy 2-core machine) is
    waited for, with a word meanwhile; then the banner shows the new admin password."""
    password_file = tmp_path / "admin-password.txt"
    password_file.write_text("admin / first-start-password\n")
    run = RunAll(tmp_path / "run", free_port(), free_port(), **slow_import_env(tmp_path, "12"),
                 DIHYA_ADMIN_PASSWORD_FILE=str(password_file))
    try:
        run.wait_until_up()
        wait_until(lambda: "Ctrl-C stops everything" in run.logs(), timeout=10,
                   what="the banner")
        out = (run.log_dir / "script.out").read_text()
        assert run.proc.poll() is None, out
        assert "importing Dihya" in out and "still importing (10s)" in out
        assert out.index("Dihya is running") < out.index("admin / first-start-password")
    finally:
        run.clean_up()


def test_a_web_server_that_exits_while_starting_shows_its_log(tmp_path, transactional_db):
    run = RunAll(tmp_path / "run", free_port(), free_port(), **slow_import_env(tmp_path, "fail"))
    try:
        assert run.proc.wait(60) == 1
        out = (run.log_dir / "script.out").read_text()
        assert "the web server exited before it listened" in out
        assert "the test made importing dihya.asgi fail" in out
        assert "Dihya is running" not in out
    finally:
        run.clean_up()
