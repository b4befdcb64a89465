"""Section "rate": the sustainable rate per core (issue 28), open loop.

The highest fixed arrival rate — calls started on a schedule, open loop
(`bench.rate_client`, a process of its own) — at which a server answers every call, the load
generator drops no arrival (none started over LATE_MS late, none unanswered) and the p95 it
adds to the direct upstream's p95 *at the same rate* stays within ADDED_P95_MS. Non-streamed
chat completions on the fake upstream (answers at once), one uvicorn process per server:

- the bare relay (bench/relay/), the run's own;
- Dihya on SQLite and on PostgreSQL + Redis (a fresh process each, as sections 1 and 7 start
  them), each twice: with a client that has no quota plan and no end user (the call admits
  against no counter), and with the call of section 1 (the client's plan and the end user
  alice's default plan, both reserved and settled) — quotas are what differs between the two
  setups;
- the LiteLLM proxy (one process, no database) when `make bench-peers` installed it.

Per server: START_RPS, doubled while it passes, then bisected (in ratio) between the last pass
and the first failure; each step STEP_S seconds (--quick: less), a search bounded by twice the
run's --cap. A rate that fails only by its p95 or by a late start is tried once more (not in
--quick), and fails when both tries do. The direct upstream is measured at every rate a
server is (once per rate), and its p95 subtracted. "Per core" is the rate over the cores the
server's process (and its children) used during that step: its CPU seconds from the kernel
over the step's wall seconds (PostgreSQL's and Redis's are not in it).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench import load, procs
from bench.context import Bench
from bench.streams import idle
from bench.upstream import REPLY

LATE_MS = 50.0          # a call started later than this after it was due is a dropped arrival
ADDED_P95_MS = 100.0    # the most the p95 may add to the direct upstream's at the same rate
START_RPS = 20.0        # halved while it fails, so a slow server is still placed
MAX_RPS = 5120.0        # far above what one process serves here; the search stops there
STEP_S, QUICK_STEP_S = 4.0, 1.0
BISECTIONS, QUICK_BISECTIONS = 3, 1   # 3: the answer within 2^(1/8), about 9 %
DIRECT_STEP_S, QUICK_DIRECT_STEP_S = 1.0, 0.5
GRACE_S = 3.0           # after the last arrival, what answers may still take
# A rate that fails by these alone is tried once more (not in --quick): on a machine shared
# with the client and the upstream, a moment without a core looks like either. Errors and
# unanswered calls are the server's and never retried.
RETRIED = ("dropped: started late", "p95 over budget")


@dataclass
class Target:
    """One server under load: where calls go, what they carry, whose CPU counts."""

    url: str
    body: dict[str, Any]
    headers: list[str]
    proc: procs.Proc | None
    what: str


async def step(t: Target, rate: float, seconds: float, budget_ms: float) -> dict[str, Any]:
    """`rate` calls a second for `seconds` from a client process of its own; the server's
    cores over the same window (from the client's `go` to its answer)."""
    args = [sys.executable, "-m", "bench.rate_client", t.url, "--rate", str(rate),
            "--duration", str(seconds), "--body", json.dumps(t.body), "--expect", REPLY,
            "--late-ms", str(LATE_MS), "--budget-ms", str(budget_ms), "--grace", str(GRACE_S),
            "--timeout", str(GRACE_S + 2)]
    for h in t.headers:
        args += ["--header", h]
    child = await asyncio.create_subprocess_exec(*args, cwd=procs.ROOT,
                                                 stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    try:
        async with asyncio.timeout(seconds + GRACE_S + 30):
            go = await child.stdout.readline()
            cpu0, t0 = (t.proc.cpu_seconds() if t.proc else 0.0), time.monotonic()
            line = await child.stdout.readline() if go == b"go\n" else b""
            cpu1, t1 = (t.proc.cpu_seconds() if t.proc else 0.0), time.monotonic()
            err = await child.stderr.read()
            await child.wait()
    except TimeoutError:
        child.kill()
        await child.wait()
        raise
    if not line or child.returncode:
        raise RuntimeError(f"rate client failed:\n{err.decode()[-2000:]}")
    seen: dict[str, Any] = json.loads(line)
    if t.proc is not None and t1 > t0:
        seen["cores"] = round((cpu1 - cpu0) / (t1 - t0), 3)
        seen["cpu_ms_per_request"] = (round((cpu1 - cpu0) * 1000 / seen["started"], 2)
                                      if seen["started"] else None)
    if t.proc is not None:
        await idle(t.proc)  # what the step left queued is not the next step's
    return seen


def verdict(seen: dict[str, Any], direct: dict[str, Any]) -> str:
    """Why a step fails, or "" when it passes."""
    if seen.get("stopped"):
        return str(seen["stopped"])
    if seen["late"] or seen["no_answer"]:
        return "dropped arrivals"
    if seen["errors"]:
        return "errors"
    added = seen.get("added_p95_ms")
    if added is None or added > ADDED_P95_MS:
        return "p95 over budget"
    if direct.get("fails"):  # the client could not keep this rate even to the upstream
        return "the load generator fell behind (direct fails too: " + direct["fails"] + ")"
    return ""


class Search:
    """The rate ladder of one run: the direct upstream's figure at each rate, remembered."""

    def __init__(self, b: Bench, direct: Target) -> None:
        self.b = b
        self.direct_target = direct
        self.step_s = QUICK_STEP_S if b.quick else STEP_S
        self.bisections = QUICK_BISECTIONS if b.quick else BISECTIONS
        self.direct_s = QUICK_DIRECT_STEP_S if b.quick else DIRECT_STEP_S
        self.retry = not b.quick
        self.direct: dict[float, dict[str, Any]] = {}

    async def direct_at(self, rate: float) -> dict[str, Any]:
        if rate not in self.direct:
            seen = await step(self.direct_target, rate, self.direct_s,
                              budget_ms=ADDED_P95_MS)
            seen["fails"] = (seen.get("stopped") or ("dropped arrivals" if seen["late"] or
                             seen["no_answer"] else "errors" if seen["errors"] else ""))
            self.direct[rate] = seen
        return self.direct[rate]

    async def at(self, t: Target, rate: float) -> dict[str, Any]:
        direct = await self.direct_at(rate)
        base = direct.get("p95_ms") or 0.0
        seen = await step(t, rate, self.step_s, budget_ms=ADDED_P95_MS + base)
        if seen.get("p95_ms") is not None and direct.get("p95_ms") is not None:
            seen["added_p95_ms"] = round(seen["p95_ms"] - direct["p95_ms"], 2)
        seen["fails"] = verdict(seen, direct)
        return seen

    async def run(self, name: str, t: Target) -> dict[str, Any]:
        deadline = time.monotonic() + 2 * self.b.cap
        await step(t, START_RPS, 1.0, budget_ms=math.inf)  # warm-up: imports, caches
        steps: dict[float, dict[str, Any]] = {}

        async def probe(rate: float) -> bool:
            for attempt in (1, 2):
                seen = await self.at(t, rate)
                self.b.say(f"rate {name} {rate:g}/s: p95 {seen.get('p95_ms')} ms (added "
                           f"{seen.get('added_p95_ms')}), {seen.get('cores')} cores, "
                           f"{seen['statuses']}, late {seen['late']}, no answer "
                           f"{seen['no_answer']}: {seen['fails'] or 'passes'}")
                if attempt == 2:
                    seen["first_try_failed"] = steps[rate]["fails"]
                steps[rate] = seen
                if not (self.retry and seen["fails"] in RETRIED):
                    break
            return not seen["fails"]

        out = await ladder(probe, lambda: time.monotonic() > deadline, self.bisections)
        out["what"] = t.what
        out["steps"] = [{"rps": r, **{k: s.get(k) for k in (
            "p50_ms", "p95_ms", "p99_ms", "added_p95_ms", "cores", "cpu_ms_per_request",
            "statuses", "late", "max_late_ms", "no_answer", "stopped", "connections",
            "fails", "first_try_failed")}} for r, s in sorted(steps.items())]
        best = steps.get(out["sustained_rps"]) if out["sustained_rps"] else None
        if best is not None:
            cores = best.get("cores")
            out.update(p95_ms=best.get("p95_ms"), added_p95_ms=best.get("added_p95_ms"),
                       cores=cores, cpu_ms_per_request=best.get("cpu_ms_per_request"),
                       per_core=round(out["sustained_rps"] / cores) if cores else None)
        if out.get("first_failing_rps"):
            out["why_it_failed"] = steps[out["first_failing_rps"]]["fails"]
        return out


async def ladder(probe: Callable[[float], Awaitable[bool]], late: Callable[[], bool],
                 bisections: int) -> dict[str, Any]:
    """START_RPS doubled while `probe` passes (halved while it fails), then `bisections`
    halvings of the ratio between the highest pass and the lowest failure."""
    passed: float | None = None
    failed: float | None = None
    rate, bounded = START_RPS, False
    while True:
        if late():
            bounded = True
            break
        if await probe(rate):
            passed = rate
            if failed is not None or rate * 2 > MAX_RPS:
                break
            rate *= 2
        else:
            failed = rate
            if passed is not None or rate / 2 < 1:
                break
            rate /= 2
    for _ in range(bisections):
        if passed is None or failed is None or bounded:
            break
        mid = float(round(math.sqrt(passed * failed)))
        if mid in (passed, failed):
            break
        if late():
            bounded = True
            break
        if await probe(mid):
            passed = mid
        else:
            failed = mid
    return {"sustained_rps": passed, "first_failing_rps": failed,
            "bounded_by_cap": bounded}


async def rate(b: Bench) -> dict[str, Any]:
    search = Search(b, Target(b.upstream + "/ok/v1/chat/completions", load.body("fake"), [],
                              b.upstream_proc, "the fake upstream"))
    out: dict[str, Any] = {"late_ms": LATE_MS, "added_p95_budget_ms": ADDED_P95_MS,
                           "step_s": search.step_s, "start_rps": START_RPS,
                           "bisections": search.bisections, "cap_s": 2 * b.cap,
                           "retried": search.retry, "targets": {}}
    if not b.peer:
        out["peer_note"] = b.peer_note

    async def measure(name: str, t: Target) -> None:
        try:
            out["targets"][name] = await search.run(name, t)
        except Exception as exc:  # one server failing leaves the others measured
            out["targets"][name] = {"failed": f"{type(exc).__name__}: {exc}"[:1000],
                                    "what": t.what}

    await measure("relay", Target(load.chat_url(b.relay), load.body("fake"), [],
                                  b.relay_proc, "bare relay"))
    await dihya(b, measure, "sqlite", b.database_url, "", b.seeded)
    if procs.postgres_available() and procs.redis_available():
        url = procs.fresh_postgres()
        procs.flush_redis()
        seeded = procs.seed(url, b.upstream, redis_url=procs.REDIS_URL)
        await dihya(b, measure, "pg", url, procs.REDIS_URL, seeded)
    else:
        out["pg_skipped"] = f"needs PostgreSQL at {procs.PG_URL} and Redis at {procs.REDIS_URL}"
    if b.peer:
        from bench import peers

        await measure("litellm", Target(load.chat_url(b.peer), load.body("bench"),
                                        [f"authorization: Bearer {peers.MASTER_KEY}"],
                                        b.peer_proc, "LiteLLM proxy"))
    out["direct"] = [{"rps": r, **{k: s.get(k) for k in ("p50_ms", "p95_ms", "p99_ms",
                                                         "late", "max_late_ms", "fails")}}
                     for r, s in sorted(search.direct.items())]
    return out


async def dihya(b: Bench, measure: Callable[[str, Target], Awaitable[None]], setup: str,
                database_url: str, redis_url: str, seeded: dict[str, Any]) -> None:
    """Both calls on one fresh process: no plan, then section 1's (two plans, alice)."""
    label = "SQLite" if setup == "sqlite" else "PostgreSQL + Redis"
    proc, base = procs.gateway(database_url, redis_url=redis_url, name=f"gateway-rate-{setup}")
    try:
        await measure(setup, Target(load.chat_url(base), load.body("bench"),
                                    [f"authorization: Bearer {seeded['key_free']}"], proc,
                                    f"Dihya, {label}, no plan"))
        await measure(f"{setup}-plans", Target(
            load.chat_url(base), load.body("bench", user="alice"),
            [f"authorization: Bearer {seeded['key']}"], proc,
            f"Dihya, {label}, client's and end user's plans (section 1's call)"))
    finally:
        proc.stop()
