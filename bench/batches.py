"""Section 8: batches. A 10,000-line batch on the fake engine, run by 1, 2 and 4 workers, on
SQLite (django-q2's ORM broker) and on PostgreSQL + Redis: lines per second; and live calls'
latency while it runs, against the same live calls with no batch running.

Each run has its own fresh database, gateway (one uvicorn process) and cluster. The batch goes
in as a client would send it (`POST /v1/files`, `POST /v1/batches` with the `jobs` key), every
line through the whole pipeline (consent for its `user`, quota per line, audit) on the same
engine and route as the live calls. The live calls are sequential (concurrency 1): first with
no batch, then while the workers run the batch; on 2 cores, what they lose is what the batch's
workers take from the web process. Lines per second is the lines ended over the span from the
first line's start to the last line's end (`bench.probe batch`). A client's lines in flight
(DIHYA_BATCH_INFLIGHT_PER_CLIENT) are set to twice the workers, so that no worker waits for
the scheduler; the engine has no batch share. Runnable alone: `python -m bench --only batches`
(`make bench-batches`).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from bench import load, procs
from bench.context import Bench
from bench.report import fmt, table


def jsonl(lines: int) -> bytes:
    body = load.body("bench", user="alice")
    return "".join(json.dumps({"custom_id": f"line-{i}", "method": "POST",
                               "url": "/v1/chat/completions", "body": body}) + "\n"
                   for i in range(lines)).encode()


async def submit(base: str, key: str, lines: int) -> str:
    async with httpx.AsyncClient(timeout=300, trust_env=False) as http:
        uploaded = await http.post(base + "/v1/files", headers=load.auth(key),
                                   data={"purpose": "batch"},
                                   files={"file": ("bench.jsonl", jsonl(lines))})
        uploaded.raise_for_status()
        created = await http.post(base + "/v1/batches", headers=load.auth(key), json={
            "input_file_id": uploaded.json()["id"], "endpoint": "/v1/chat/completions",
            "completion_window": "24h"})
        created.raise_for_status()
        return str(created.json()["id"])


async def progress(base: str, key: str, batch_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        return dict((await http.get(f"{base}/v1/batches/{batch_id}",
                                    headers=load.auth(key))).json())


async def live(base: str, key: str, n: int, cap: float) -> load.Run:
    return await load.load(load.chat_url(base), load.body("bench", user="alice"), n=n,
                           concurrency=1, headers=load.auth(key), warmup=5, max_seconds=cap)


async def one_run(b: Bench, setup: str, workers: int, lines: int) -> dict[str, Any]:
    redis = procs.REDIS_URL if setup == "postgresql" else ""
    if redis:
        procs.flush_redis()
        url = procs.fresh_postgres()
    else:
        url = procs.fresh_sqlite(f"batches-{workers}")
    seeded = procs.seed(url, b.upstream, redis_url=redis)
    key = seeded["key"]
    share = {"DIHYA_BATCH_INFLIGHT_PER_CLIENT": str(2 * workers)}
    gw, base = procs.gateway(url, redis_url=redis, name=f"gateway-batches-{setup}", **share)
    cluster = procs.qcluster(url, redis_url=redis, workers=workers, **share)
    n = b.size(300, minimum=50)
    try:
        await asyncio.sleep(2.0)  # the workers start
        alone = (await live(base, key, n, b.cap)).summary()
        batch_id = await submit(base, key, lines)
        submitted = time.monotonic()
        await asyncio.sleep(2.0)  # the workers are on it
        during = (await live(base, key, n, b.cap)).summary()
        counts = (await progress(base, key, batch_id))["request_counts"]
        left_after_live = counts["total"] - counts["completed"] - counts["failed"]
        deadline = submitted + b.cap * 25  # 10,000 lines at ~10 a second: ~17 minutes
        state = await progress(base, key, batch_id)
        while state["status"] not in ("completed", "failed", "expired", "cancelled") \
                and time.monotonic() < deadline:
            await asyncio.sleep(2.0)
            state = await progress(base, key, batch_id)
        span = json.loads(procs.run_django(["-m", "bench.probe", "batch", batch_id], url,
                                           redis))
    finally:
        cluster.stop()
        gw.stop()
    run = {"database": setup, "workers": workers, "lines": lines,
           "status": state["status"], **span, "left_after_live": left_after_live,
           "live_alone": pick(alone), "live_during": pick(during)}
    b.say(f"batches {setup} x{workers}: {span['ended']}/{lines} lines, "
          f"{span['lines_per_s']} lines/s; live p50/p99 alone {alone['p50_ms']}/"
          f"{alone['p99_ms']} ms, during {during['p50_ms']}/{during['p99_ms']} ms")
    return run


def pick(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary.get(k) for k in ("requests", "ok", "p50_ms", "p99_ms", "statuses")}


async def batches(b: Bench) -> dict[str, Any]:
    lines = b.size(10_000, minimum=500)
    setups = ["sqlite"]
    if procs.postgres_available() and procs.redis_available():
        setups.append("postgresql")
    out: dict[str, Any] = {"lines": lines, "runs": []}
    if len(setups) == 1:
        out["note"] = ("PostgreSQL at " + procs.PG_URL + " or Redis at " + procs.REDIS_URL
                       + " not reachable: SQLite only")
    for setup in setups:
        for workers in (1,) if b.quick else (1, 2, 4):
            out["runs"].append(await one_run(b, setup, workers, lines))
    return out


def section(r: dict[str, Any]) -> list[str]:
    """The report's section 8 (bench.report)."""
    bt = r.get("batches") or {}
    if not bt.get("runs"):
        return []
    run = bt.get("run") or {}
    alone_run = (f" Measured alone (`make bench-batches`) at commit {run.get('commit')}, "
                 f"{run.get('seconds')} s, load average at the end "
                 f"{run.get('load_average_at_end')}." if run else "")
    rows = []
    for x in bt["runs"]:
        alone, during = x["live_alone"], x["live_during"]
        rows.append(["SQLite (ORM broker)" if x["database"] == "sqlite"
                     else "PostgreSQL + Redis", x["workers"],
                     f"{x['ended']} / {x['lines']} ({x['status']})", x["lines_per_s"],
                     f"{fmt(alone['p50_ms'])} / {fmt(alone['p99_ms'])}",
                     f"{fmt(during['p50_ms'])} / {fmt(during['p99_ms'])}"])
    return ["## 8. Batches (fake engine)", "",
            f"A {bt['lines']:,}-line chat batch through `/v1/files` and `/v1/batches`, every line "
            "through the whole pipeline on the workers; lines per second from the first line's "
            "start to the last line's end. Live calls: the same chat call, sequential, on the "
            "same route and engine, with no batch and then while the batch runs (p50 / p99 ms)."
            " One gateway process; a client's lines in flight are twice the workers; the "
            "machine's 2 cores are shared by the gateway, the workers, the database and the "
            "load generator." + alone_run, "",
            table(["database", "workers", "lines ended", "lines/s", "live alone p50 / p99",
                   "live during the batch p50 / p99"], rows), ""]
