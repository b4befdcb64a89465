"""The processes a benchmark run starts (and always stops): fake upstream, gateway, workers,
llama.cpp, and the scratch databases they share.

Everything listens on 127.0.0.1 only. Every wait here is bounded; a process that does not come
up in time fails the section with its last log lines, it never hangs the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/dihya_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET = "bench-only-secret-key-not-for-production-0123456789"  # noqa: S105


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port: int, timeout: float, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} died at start:\n{proc.tail()}")
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s"
                       + (f":\n{proc.tail()}" if proc else ""))


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.popen.pid)

    def family(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.Error):
            return [self.ps, *self.ps.children(recursive=True)]
        return []

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its children (workers) so far."""
        total = 0.0
        for p in self.family():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss_mb(self) -> list[float]:
        out = []
        for p in self.family():
            with contextlib.suppress(psutil.Error):
                out.append(round(p.memory_info().rss / 2**20, 1))
        return out

    def tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def start(name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
    VAR.mkdir(parents=True, exist_ok=True)
    log = VAR / f"{name}.log"
    out = open(log, "wb")  # noqa: SIM115 - handed to the child
    popen = subprocess.Popen(args, cwd=ROOT, env=env or os.environ.copy(), stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
    return Proc(name, popen, log)


def django_env(database_url: str, redis_url: str = "", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIHYA_", "DATABASE_URL",
                                                                    "REDIS_URL"))}
    env.update(DATABASE_URL=database_url, SECRET_KEY=SECRET, DEBUG="false",
               DJANGO_SETTINGS_MODULE="dihya.settings", PYTHONUNBUFFERED="1",
               DIHYA_Q_NAME="dihya-bench", LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "INFO"))
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    return env


# --- scratch databases -----------------------------------------------------------------------
def sqlite_url(name: str = "bench") -> str:
    return f"sqlite:///{VAR / (name + '.sqlite3')}"


def migrations_digest() -> str:
    """Names and contents of every migration: a template migrated before a new one is stale."""
    h = hashlib.sha256()
    found = (f for app in ("dihya", "fallbacks", "quotas", "audit")
             for f in (ROOT / app).glob("**/migrations/[0-9]*.py"))
    for f in sorted(found):
        h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def fresh_sqlite(name: str = "bench") -> str:
    """A migrated SQLite file. Migrating once and copying saves ~10 s per scenario; the
    template is named by the migrations it has, so a new migration makes a new one."""
    VAR.mkdir(parents=True, exist_ok=True)
    stem = f"template-{migrations_digest()}"
    template = VAR / f"{stem}.sqlite3"
    if not template.exists():
        for old in VAR.glob("template*.sqlite3*"):
            old.unlink(missing_ok=True)
        run_django(["manage.py", "migrate", "--noinput", "-v0"], sqlite_url(stem))
        run_django(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]);"
                    "c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()", str(template)],
                   sqlite_url(stem))
    target = VAR / f"{name}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, target)
    return sqlite_url(name)


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", connect_timeout=2):
            return True
    except Exception:
        return False


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except Exception:
        return False


def fresh_postgres() -> str:
    """Drop and recreate dihya_bench, then migrate it (only ever that database)."""
    import psycopg

    name = PG_URL.rsplit("/", 1)[1]
    assert name.endswith("_bench"), "the benchmark only ever recreates a *_bench database"
    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    run_django(["manage.py", "migrate", "--noinput", "-v0"], PG_URL)
    return PG_URL


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def run_django(args: list[str], database_url: str, redis_url: str = "",
               timeout: float = 180) -> str:
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=django_env(database_url, redis_url), timeout=timeout, check=False)
    if done.returncode:
        raise RuntimeError(f"{args} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def seed(database_url: str, upstream: str, *, llama: str = "", redis_url: str = "",
         **options: object) -> dict[str, str]:
    args = ["-m", "bench.seed", "--upstream", upstream]
    if llama:
        args += ["--llama", llama]
    for name, value in options.items():
        args.append(f"--{name.replace('_', '-')}={value}")  # values may start with "-"
    return json.loads(run_django(args, database_url, redis_url))


# --- the processes ---------------------------------------------------------------------------
def upstream(latency_ms: float = 0.0) -> tuple[Proc, str]:
    port = free_port()
    proc = start("upstream", [sys.executable, "-m", "bench.upstream", "--port", str(port),
                              "--latency", str(latency_ms)])
    wait_port(port, 15, proc)
    return proc, f"http://127.0.0.1:{port}"


def gateway(database_url: str, *, redis_url: str = "", server: str = "uvicorn",
            processes: int = 1, name: str = "gateway", server_args: tuple[str, ...] = (),
            **extra: str) -> tuple[Proc, str]:
    """The Dihya ASGI app, as `make run` serves it (uvicorn) or under granian."""
    port = free_port()
    if server == "granian":
        args = [sys.executable, "-m", "granian", "--interface", "asginl", "--host", "127.0.0.1",
                "--port", str(port), "--workers", str(processes), "--no-ws",
                "--log-level", "warning", "dihya.asgi:application"]
    else:
        args = [sys.executable, "-m", "uvicorn", "dihya.asgi:application", "--host",
                "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
                "--backlog", "4096"]
        if processes > 1:
            args += ["--workers", str(processes)]
    args += list(server_args)
    proc = start(name, args, django_env(database_url, redis_url, **extra))
    wait_port(port, 60, proc)
    if processes > 1:  # every worker must be up before the clock starts
        deadline = time.monotonic() + 30
        while len(proc.family()) < processes + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
    return proc, f"http://127.0.0.1:{port}"


def relay(upstream_v1: str, *, name: str = "relay") -> tuple[Proc, str]:
    """The bare Django + ninja + httpx relay (bench/relay/), served exactly like the gateway."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIHYA_", "DATABASE_URL",
                                                                    "REDIS_URL"))}
    env.update(DJANGO_SETTINGS_MODULE="bench.relay.settings", SECRET_KEY=SECRET,
               PYTHONUNBUFFERED="1", BENCH_RELAY_UPSTREAM=upstream_v1)
    proc = start(name, [sys.executable, "-m", "uvicorn", "bench.relay.app:application",
                        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
                        "--log-level", "warning", "--backlog", "4096"], env)
    wait_port(port, 60, proc)
    return proc, f"http://127.0.0.1:{port}"


def qcluster(database_url: str, *, redis_url: str = "", workers: int = 1,
             poll: float | None = None, **env: str) -> Proc:
    extra = {"DIHYA_WORKERS": str(workers), **env}
    if poll is not None:
        extra["DIHYA_Q_POLL"] = str(poll)
    proc = start(f"qcluster-{workers}", [sys.executable, "manage.py", "qcluster"],
                 django_env(database_url, redis_url, **extra))
    time.sleep(0.5)
    if proc.popen.poll() is not None:
        raise RuntimeError(f"qcluster died at start:\n{proc.tail()}")
    return proc


def llama(slots: int = 4) -> tuple[Proc, str] | None:
    """The real llama.cpp engine (SmolLM2), or None if it is not installed."""
    sys.path.insert(0, str(ROOT))
    try:
        from fallbacks import local_engine

        if not local_engine.available():
            return None
    finally:
        sys.path.pop(0)
    port = free_port()
    proc = start("llama", [sys.executable, "manage.py", "serve_local_engine", "--port",
                           str(port), "--slots", str(slots)], django_env(sqlite_url()))
    wait_port(port, 90, proc)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc, f"http://127.0.0.1:{port}/v1"
        time.sleep(0.2)
    proc.stop()
    raise RuntimeError("llama.cpp did not become healthy:\n" + proc.tail())


@contextlib.contextmanager
def running(*procs: Proc) -> Iterator[None]:
    try:
        yield
    finally:
        for p in procs:
            p.stop()
