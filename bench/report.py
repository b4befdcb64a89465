"""docs/benchmarks.md from a run's results: machine, method, targets beside figures, tables.

The prose that explains the figures (why a target is missed, what it would take) lives in
docs/benchmarks-notes.md, written by people and appended as it is: a generated file must not
pretend to know why.
"""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import psutil

from bench.context import Bench

NOTES = Path(__file__).resolve().parent.parent / "docs" / "benchmarks-notes.md"


def machine(b: Bench, seconds: float, quick: bool) -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(
        psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
        "os": platform.platform(), "scale": b.scale, "quick": quick,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "seconds": round(seconds, 1), "commit": commit}


def get(data: Any, *path: Any) -> Any:
    for p in path:
        if not isinstance(data, dict | list):
            return None
        try:
            data = data[p]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        x = f"{x:.2f}" if abs(x) < 100 else f"{x:.0f}"
    return f"{x}{unit}"


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def targets(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    c1 = get(r, "overhead", "levels", "1") or {}
    c10 = get(r, "overhead", "levels", "10") or {}
    cpu = get(c10, "gateway", "cpu_ms_per_request")
    rows = [("Gateway CPU per non-streamed request, whole pipeline (c=10)", "≤ 5 ms",
             fmt(cpu, " ms"), verdict(cpu <= 5 if cpu is not None else None))]
    rps = get(c10, "gateway", "rps")
    rows.append(("Throughput at c=10 (peer: ~45 req/s)", "≥ 180 req/s", fmt(rps, " req/s"),
                 verdict(rps >= 180 if rps is not None else None)))
    a50, a99 = c1.get("added_p50_ms"), c1.get("added_p99_ms")
    rows.append(("Added latency at c=1, p50", "≤ 5 ms", fmt(a50, " ms"),
                 verdict(a50 <= 5 if a50 is not None else None)))
    rows.append(("Added latency at c=1, p99", "≤ 10 ms", fmt(a99, " ms"),
                 verdict(a99 <= 10 if a99 is not None else None)))
    ttft = get(r, "streaming", "fake", "added_ttft_p50_ms")
    rows.append(("Added time to first token (fake upstream), p50", "≤ 5 ms", fmt(ttft, " ms"),
                 verdict(ttft <= 5 if ttft is not None else None)))
    cases = get(r, "failover", "cases") or {}
    extras = [c.get("extra_vs_healthy_ms") for c in cases.values()]
    worst = max((e for e in extras if e is not None), default=None)
    rows.append(("Failover: following requests vs healthy p50 (worst case, every tier)",
                 "≤ 2 ms", fmt(worst, " ms"), verdict(worst <= 2 if worst is not None else None)))
    first = get(cases, "hang-stream", "first_ms")
    rows.append(("Hanging engine, first streamed request (first-token timeout 0.5 s)",
                 "≤ 0.5 s + a healthy call", fmt(first, " ms"),
                 verdict(first <= 500 + 50 if first is not None else None)))
    runs = get(r, "quotas", "runs") or []
    over = sum(x["requests"]["over_admitted"] + x["tokens"]["over_admitted"] for x in runs)
    rows.append(("Quota over-admission, 1,000 concurrent calls, all databases and process "
                 "counts", "0", fmt(over if runs else None),
                 verdict(over == 0 if runs else None)))
    redis = [x for x in get(r, "jobs", "runs") or [] if x["broker"] == "redis"]
    p50 = min((x["latency_p50_ms"] for x in redis if x["latency_p50_ms"] is not None),
              default=None)
    rows.append(("Jobs: enqueue-to-done p50, Redis broker", "< 50 ms", fmt(p50, " ms"),
                 verdict(p50 < 50 if p50 is not None else None)))
    worst = get(r, "strategies", "worst_us")
    rows.append(("Choosing the engine order, per request (worst built-in strategy)", "< 50 µs",
                 fmt(worst, " µs"), verdict(worst < 50 if worst is not None else None)))
    return rows


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in row) + " |"
              for row in rows]
    return "\n".join(lines)


def markdown(r: dict[str, Any]) -> str:
    m = r.get("meta", {})
    out = ["# Benchmarks", "",
           "Generated by `make bench` (`python -m bench`); do not edit by hand: the figures "
           "come from `docs/benchmarks.json` of the same run, the notes from "
           "`docs/benchmarks-notes.md`.", "",
           f"Machine: {m.get('cpu', '?')}, {m.get('cores')} cores, {m.get('memory_gb')} GB, "
           f"Python {m.get('python')}, {m.get('os')}. Commit {m.get('commit')}, scale "
           f"{m.get('scale')}{' (quick run)' if m.get('quick') else ''}, "
           f"{m.get('seconds')} s in all, load average at the end {m.get('load_average_at_end')}"
           ". The machine is shared: compare ratios within this run, not absolute times "
           "between runs.", "",
           "## Targets (issue 9)", "",
           table(["what", "target", "measured", "verdict"], [list(t) for t in targets(r)]), ""]
    out += sections(r)
    if NOTES.exists():
        out += ["", NOTES.read_text().strip()]
    return "\n".join(out) + "\n"


def sections(r: dict[str, Any]) -> list[str]:
    out = ["## Method", "",
           "Everything runs on 127.0.0.1: a fake OpenAI-compatible upstream (`bench/upstream.py`,"
           " raw asyncio, fixed reply and usage), the gateway under uvicorn (one process unless "
           "said), a scratch SQLite database in var/bench/ (PostgreSQL `dihya_bench` and Redis "
           "db 14 where said), the real llama.cpp engine for streaming. The load generator is "
           "one `httpx.AsyncClient` in the harness process. Every gateway call goes through the "
           "whole pipeline: API key, end-user consent, quota reservation and settlement on the "
           "client's and the person's plans, generation and attempt rows, a hash-chained audit "
           "event. CPU per request is the gateway process's user+system time over the run "
           "divided by the requests (the load generator's CPU is not in it).", ""]
    levels = get(r, "overhead", "levels") or {}
    if levels:
        rows = []
        for c, lv in levels.items():
            d, g = lv["direct"], lv["gateway"]
            rows.append([c, d["p50_ms"], g["p50_ms"], d["p95_ms"], g["p95_ms"], d["p99_ms"],
                         g["p99_ms"], d["rps"], g["rps"], g.get("cpu_ms_per_request"),
                         lv.get("rps_ratio")])
        out += ["## 1. Overhead (non-streamed, fake upstream)", "",
                table(["concurrency", "p50 direct", "p50 gateway", "p95 direct", "p95 gateway",
                       "p99 direct", "p99 gateway", "req/s direct", "req/s gateway",
                       "gateway CPU ms/req", "throughput ratio"], rows), ""]
    srv = r.get("servers") or {}
    if "uvicorn" in srv:
        out += ["### ASGI server (concurrency 10, same database)", "",
                table(["server", "req/s", "p50 ms", "p99 ms", "CPU ms/req"],
                      [[k, v.get("rps"), v.get("p50_ms"), v.get("p99_ms"),
                        v.get("cpu_ms_per_request")] for k, v in srv.items()
                       if isinstance(v, dict)]), ""]
    st = r.get("streaming") or {}
    rows = []
    for name in ("fake", "llama"):
        s = st.get(name) or {}
        if "direct" in s:
            rows.append([name, s["direct"].get("ttft_p50_ms"), s["gateway"].get("ttft_p50_ms"),
                         s.get("added_ttft_p50_ms"), s["direct"].get("p50_ms"),
                         s["gateway"].get("p50_ms")])
        elif s:
            rows.append([name, s.get("skipped", "—"), "—", "—", "—", "—"])
    if rows:
        out += ["## 2. Streaming (concurrency 1)", "",
                table(["upstream", "TTFT p50 direct", "TTFT p50 gateway", "added TTFT",
                       "total p50 direct", "total p50 gateway"], rows), ""]
        lc = st.get("llama_concurrent")
        if lc:
            out += [f"{lc['streams']} concurrent streams on llama.cpp (4 slots, max_tokens 4): "
                    f"{lc['gateway_wall_s']} s through the gateway; directly, before and after: "
                    f"{lc['direct_wall_s']} s.", ""]
    sg = r.get("strategies") or {}
    if sg.get("us_per_request"):
        out += ["## Routing strategies (cost of choosing)", "",
                f"`fallbacks.strategies.plan` on a {sg['engines']}-engine route, best of 5 runs "
                f"of {sg['number']} calls, with the real breaker board, in-flight counts and "
                "latency averages (`bench/strategies.py`).", "",
                table(["strategy", "µs per request"],
                      [[k, v] for k, v in sg["us_per_request"].items()]), ""]
    fo = r.get("failover") or {}
    if fo.get("cases"):
        out += ["## 3. Failover (sequential requests)", "",
                f"{fo.get('requests_per_case')} requests per case, each followed by one on the "
                "healthy route; \"following\" is from the 11th on (the breaker opens after 3 "
                "failures).", "",
                table(["primary", "first request ms", "first five ms", "following p50 ms",
                       "healthy p50 ms", "extra ms", "failed"],
                      [[c["what"], c["first_ms"], ", ".join(fmt(x) for x in c["first_five_ms"]),
                        c["following_p50_ms"], c["healthy_p50_ms"], c["extra_vs_healthy_ms"],
                        c["failed_requests"]] for c in fo["cases"].values()]), ""]
    q = r.get("quotas") or {}
    if q.get("runs"):
        out += ["## 4. Quotas", "",
                f"{q['calls']} calls at once; a limit of {q['request_limit']} requests, and a "
                f"token budget of {q['token_budget']} ({q['tokens_per_call']} per call).", "",
                table(["database", "web processes", "requests admitted", "tokens: calls "
                       "admitted", "over-admitted", "other answers", "seconds"],
                      [[x["database"], x["web_processes"],
                        f"{x['requests']['admitted']} / {x['requests']['limit']}",
                        f"{x['tokens']['admitted']} / {x['tokens']['limit']}",
                        x["requests"]["over_admitted"] + x["tokens"]["over_admitted"],
                        str({**x["requests"]["other"], **x["tokens"]["other"]} or "none"),
                        round(x["requests"]["wall_s"] + x["tokens"]["wall_s"], 1)]
                       for x in q["runs"]]), ""]
        if q.get("note"):
            out += [q["note"], ""]
    j = r.get("jobs") or {}
    if j.get("runs"):
        out += ["## 5. Jobs (SQLite database)", "",
                table(["broker", "workers", "enqueue-to-done p50 ms", "p95 ms", "jobs/s",
                       "burst done", "idle cluster CPU %", "cluster RSS MB"],
                      [[x["broker"], x["workers"], x["latency_p50_ms"], x["latency_p95_ms"],
                        x["jobs_per_s"], f"{x['burst_done']} / {x['burst_jobs']}",
                        x["idle_cluster_cpu_percent"], str(x["cluster_rss_mb"])]
                       for x in j["runs"]]), ""]
    fp = r.get("footprint") or {}
    web = get(r, "footprint_web", "web_rss_mb") or fp.get("web_rss_mb")
    if fp or web:
        out += ["## 6. Footprint", "", f"Web process RSS after sections 1-3: {web} MB.", ""]
        for name, d in (fp.get("dashboard") or {}).items():
            out += [f"Dashboard on {d['generations']:,} generations ({name}, filled in "
                    f"{d['fill_s']} s): the admin index's queries take {d['admin_index_ms']} ms."
                    , "", table(["query", "ms"], [[k, v] for k, v in d["query_ms"].items()]),
                    ""]
    so = r.get("scaleout") or {}
    if so.get("runs"):
        out += ["## 7. Scale-out (PostgreSQL + Redis, concurrency 50)", "",
                table(["web processes", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "answers"],
                      [[x["web_processes"], x["rps"], x["p50_ms"], x["p99_ms"],
                        x.get("cpu_ms_per_request"), str(x["statuses"])] for x in so["runs"]]),
                ""]
    elif so.get("skipped"):
        out += ["## 7. Scale-out", "", "Skipped: " + so["skipped"], ""]
    failed = [f"- {k}: {v['failed']}" for k, v in r.items()
              if isinstance(v, dict) and v.get("failed")]
    if failed:
        out += ["## Sections that failed in this run", "", *failed, ""]
    return out
