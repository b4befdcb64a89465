"""Private Redis and PostgreSQL servers for the tests that stop or restart them.

On free ports, in a directory of the test's: the machine's shared servers serve other
processes and are never restarted or flushed by a test.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Process, free_port, wait_until


class PrivateRedis:
    def __init__(self, where: Path) -> None:
        self.port = free_port()
        self.where = where
        self.proc: Process | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = Process(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(self.where)],
                            log=self.where / "redis.log")
        wait_until(self.ping, timeout=10, what="the private Redis")

    def ping(self) -> bool:
        import redis

        return bool(redis.Redis(port=self.port, socket_timeout=1).ping())

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()


class PrivatePostgres:
    """A throw-away cluster (trust auth, no fsync) run as the `postgres` user under root."""

    def __init__(self, where: Path) -> None:
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(
            p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0)
        if not versions or not Path(versions[-1], "initdb").exists():
            pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
        self.bin = Path(versions[-1])
        self.port = free_port()
        self.where = where
        self.data = where / "pgdata"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no `postgres` user to run PostgreSQL")
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(where, "postgres")
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = (f"-p {self.port} -k {where} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                 str(where / "postgres.log"), "-w", "start")
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "dihya")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/dihya"

    def run(self, tool: str, *args: str) -> None:
        done = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True,
                              cwd=self.where, timeout=60)
        if done.returncode:
            raise AssertionError(f"{tool} failed: {done.stderr.decode(errors='replace')}")

    def restart(self) -> None:
        # With its log file: else the new server would hold our output pipe open.
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.where / "postgres.log"), "-m",
                 "fast", "-w", "restart")

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                        "immediate", "-w", "stop"], capture_output=True, timeout=30)
