"""Section 6 (footprint) and 7 (scale-out).

Footprint: resident memory of a web process after the overhead run and of the django-q2
processes after the jobs run; the admin dashboard's queries on 1,000,000 generations.
Scale-out: the same call at concurrency 50 on the run's SQLite gateway, then with 1, 2 and 4
uvicorn workers on PostgreSQL + Redis: CPU per call on each database in one run (issue 18 wants
PostgreSQL + Redis within 1.3 times SQLite) and how throughput grows from one process to two.
"""

from __future__ import annotations

import json
from typing import Any

from bench import load, procs
from bench.context import Bench


async def footprint(b: Bench) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if b.gateway_proc is not None:
        out["web_rss_mb"] = b.gateway_proc.rss_mb()
    rows = b.size(1_000_000, minimum=50_000)
    backends = [("sqlite", procs.fresh_sqlite("dashboard"))]
    if procs.postgres_available() and not b.quick:
        backends.append(("postgresql", procs.fresh_postgres()))
    out["dashboard"] = {}
    for name, url in backends:
        procs.seed(url, b.upstream)
        result = json.loads(procs.run_django(["-m", "bench.probe", "dashboard", str(rows)], url,
                                             timeout=600))
        out["dashboard"][name] = result
        b.say(f"dashboard on {rows} generations ({name}): filled in {result['fill_s']} s, "
              f"admin index queries {result['admin_index_ms']} ms; {result['query_ms']}")
    return out


async def scaleout(b: Bench) -> dict[str, Any]:
    if b.quick:
        return {"skipped": "not in a --quick run"}
    if not (procs.postgres_available() and procs.redis_available()):
        return {"skipped": "needs PostgreSQL at " + procs.PG_URL + " and Redis at "
                + procs.REDIS_URL}
    n = b.size(500, minimum=200)
    out: dict[str, Any] = {"database": "postgresql", "broker_cache": "redis", "concurrency": 50,
                           "n": n, "runs": []}
    if b.gateway_proc is not None:  # SQLite first, while PostgreSQL is idle
        run = await load.load(load.chat_url(b.gateway), load.body("bench", user="alice"), n=n,
                              concurrency=50, headers=load.auth(b.key), proc=b.gateway_proc,
                              warmup=100, max_seconds=b.cap)
        out["sqlite"] = run.summary()
        b.say(f"scale-out SQLite x1: {out['sqlite']['rps']} req/s, "
              f"{out['sqlite'].get('cpu_ms_per_request')} ms CPU/req")
    url = procs.fresh_postgres()
    procs.flush_redis()
    seeded = procs.seed(url, b.upstream, redis_url=procs.REDIS_URL)
    for processes in (1, 2, 4):
        gw, base = procs.gateway(url, redis_url=procs.REDIS_URL, processes=processes,
                                 name=f"gateway-scale-{processes}")
        try:
            run = await load.load(load.chat_url(base), load.body("bench", user="alice"),
                                  n=n, concurrency=50, headers=load.auth(seeded["key"]),
                                  proc=gw, warmup=100, max_seconds=b.cap)
        finally:
            gw.stop()
        s = run.summary()
        s["web_processes"] = processes
        out["runs"].append(s)
        b.say(f"scale-out x{processes}: {s['rps']} req/s, p50 {s['p50_ms']} ms, "
              f"{s.get('cpu_ms_per_request')} ms CPU/req, {s['statuses']}")
    by = {x["web_processes"]: x for x in out["runs"]}
    pg_cpu, sq_cpu = by[1].get("cpu_ms_per_request"), get(out, "sqlite", "cpu_ms_per_request")
    out["cpu_ratio_pg_vs_sqlite"] = round(pg_cpu / sq_cpu, 2) if pg_cpu and sq_cpu else None
    out["rps_gain_1_to_2"] = (round(by[2]["rps"] / by[1]["rps"], 2)
                              if by[1].get("rps") and by[2].get("rps") else None)
    return out


def get(data: Any, *path: str) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data
