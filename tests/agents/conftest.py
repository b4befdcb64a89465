"""The real coding agents against a live Dihya: how each is found and run.

The agents come from npm (tests/agents/package.json, installed by `make test`); each is the
unchanged CLI, run as a child process in a work directory of its own, with a home of its own
(no user config, no login, no session files left behind) and only the environment it needs,
so that nothing of the machine's own setup (keys, proxies) reaches it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from dihya.gateway.models import Generation
from tests.agents.scripted_engine import scripted_engine  # noqa: F401 - a fixture
from tests.api.conftest import api, live_server_url, make_key  # noqa: F401 - fixtures
from tests.conftest import wait_until

BIN = Path(__file__).parent / "node_modules" / ".bin"
AGENT_TIMEOUT = 60  # seconds; a run takes one or two against a scripted engine


def agent(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed: `make test` installs it "
                    "(npm ci in tests/agents)")
    return path


def run(argv: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run an agent to its end, with no terminal and nothing on its standard input; one
    still running after AGENT_TIMEOUT is killed and reported with exit code -9."""
    try:
        return subprocess.run(argv, cwd=cwd, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                                  "LANG": "C.UTF-8", **env},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=AGENT_TIMEOUT)
    except subprocess.TimeoutExpired as late:
        def text(out: bytes | str | None) -> str:
            return out.decode(errors="replace") if isinstance(out, bytes) else out or ""
        killed = f"\n(killed after {AGENT_TIMEOUT} s)"
        return subprocess.CompletedProcess(argv, -9, text(late.stdout), text(late.stderr) + killed)


def told(done: subprocess.CompletedProcess[str]) -> str:
    """What an agent printed, for a failing assertion's message."""
    return f"exit {done.returncode}\n--- stdout\n{done.stdout[-4000:]}\n" \
           f"--- stderr\n{done.stderr[-4000:]}"


def served_turns(route: str, turns: int = 2) -> list[tuple[str, str, str]]:
    """Status, engine and finish reason of the route's generations, oldest first, once
    `turns` of them are settled (recording may end just after the agent's stream does);
    what there is after 10 s otherwise, for the failing assertion to show."""
    def rows() -> list[tuple[str, str, str]]:
        return [(g.status, g.engine_name, g.finish_reason) for g in
                Generation.objects.filter(route_name=route).order_by("created")]

    def settled() -> bool:
        found = rows()
        return len(found) >= turns and all(r[0] in Generation.TERMINAL for r in found)

    with contextlib.suppress(AssertionError):
        wait_until(settled, timeout=10, what=f"{turns} generations settled")
    return rows()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    where = tmp_path / "work"
    where.mkdir()
    return where
