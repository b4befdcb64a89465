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


def at_most(x: float | None, limit: float) -> str:
    return verdict(x <= limit if x is not None else None)


def times(a: Any, b: Any) -> float | None:
    return a / b if isinstance(a, int | float) and isinstance(b, int | float) and b else None


TIMES = "\u00d7"  # the multiplication sign of the ratios
NO_PEER = "not measured (run `make bench-peers`)"


def targets(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Issue 18's targets beside this run's figures (the ratios are within this run)."""
    levels = get(r, "overhead", "levels") or {}
    rows = []
    for c in ("1", "10", "50"):
        g, relay = get(levels, c, "gateway") or {}, get(levels, c, "relay") or {}
        x = times(g.get("cpu_ms_per_request"), relay.get("cpu_ms_per_request"))
        rows.append((f"CPU per non-streamed call, whole pipeline, c={c}: Dihya / bare relay",
                     f"≤ 1.3{TIMES}", f"{fmt(g.get('cpu_ms_per_request'))} / "
                     f"{fmt(relay.get('cpu_ms_per_request'))} ms = {fmt(x, TIMES)}"
                     if x is not None else "—", at_most(x, 1.3)))
    for c in ("1", "10", "50"):
        g, peer = get(levels, c, "gateway") or {}, get(levels, c, "litellm")
        x = times(g.get("rps"), (peer or {}).get("rps"))
        rows.append((f"Throughput, c={c}: Dihya / LiteLLM", f"≥ 3{TIMES}",
                     f"{fmt(g.get('rps'))} / {fmt(peer.get('rps'))} req/s = {fmt(x, TIMES)}"
                     if peer and x is not None else NO_PEER if levels else "—",
                     verdict(x >= 3 if x is not None else None)))
    for c in ("1", "10", "50"):
        g, peer = get(levels, c, "gateway") or {}, get(levels, c, "litellm")
        a, b = g.get("p99_ms"), (peer or {}).get("p99_ms")
        rows.append((f"p99 at c={c}: Dihya vs LiteLLM", "below LiteLLM's",
                     f"{fmt(a)} vs {fmt(b)} ms" if peer else NO_PEER if levels else "—",
                     verdict(a < b if a is not None and b is not None else None)))
    rows += scaled_targets(levels)
    for name, label in (("fake", "fake upstream"), ("llama", "llama.cpp")):
        added = get(r, "streaming", name, "added_ttft_p50_ms", "gateway")
        rows.append((f"Added time to first token, p50, {label}", "≤ 3 ms", fmt(added, " ms"),
                     at_most(added, 3)))
    so = r.get("scaleout") or {}
    sqlite = so.get("sqlite") or {}
    pg1: dict[str, Any] = next(
        (x for x in so.get("runs") or [] if x.get("web_processes") == 1), {})
    x = so.get("cpu_ratio_pg_vs_sqlite")
    rows.append(("CPU per call, PostgreSQL + Redis / SQLite (same call, c=50, one process)",
                 f"≤ 1.3{TIMES}", f"{fmt(pg1.get('cpu_ms_per_request'))} / "
                 f"{fmt(sqlite.get('cpu_ms_per_request'))} ms = {fmt(x, TIMES)}"
                 if x is not None else "—", at_most(x, 1.3)))
    peer50 = get(levels, "50", "litellm")
    x = times(pg1.get("rps"), (peer50 or {}).get("rps"))
    rows.append(("Throughput on PostgreSQL + Redis, c=50, one process / LiteLLM's at c=50",
                 f"≥ 3{TIMES}", f"{fmt(pg1.get('rps'))} / {fmt(peer50.get('rps'))} req/s = "
                 f"{fmt(x, TIMES)}" if peer50 and x is not None else
                 NO_PEER if pg1 else "—", verdict(x >= 3 if x is not None else None)))
    gain = so.get("rps_gain_1_to_2")
    rows.append(("Throughput from 1 to 2 web processes, PostgreSQL + Redis, c=50",
                 "reported (the load generator shares the 2 cores)",
                 f"{TIMES} {fmt(gain)}" if gain is not None else "—", "—"))
    runs = get(r, "quotas", "runs") or []
    over = sum(x["requests"]["over_admitted"] + x["tokens"]["over_admitted"] for x in runs)
    rows.append(("Kept: quota over-admission, 1,000 concurrent calls, both databases, 1 and 4 "
                 "processes", "0", fmt(over if runs else None),
                 verdict(over == 0 if runs else None)))
    cases = get(r, "failover", "cases") or {}
    extras = [c.get("extra_vs_healthy_ms") for c in cases.values()]
    worst = max((e for e in extras if e is not None), default=None)
    rows.append(("Kept: failover, following requests vs healthy p50 (worst case, every tier)",
                 "≤ 2 ms", fmt(worst, " ms"), at_most(worst, 2)))
    first = get(cases, "hang-stream", "first_ms")
    rows.append(("Kept: hanging engine, first streamed request (first-token timeout 0.5 s)",
                 "≤ 0.5 s + a healthy call", fmt(first, " ms"),
                 verdict(first <= 500 + 50 if first is not None else None)))
    return rows


def scaled_targets(levels: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Issue 28's: the scale-out setup (PostgreSQL + Redis) in the same cells as section 1."""
    rows = []
    for c in ("1", "10", "50"):
        pg, sq, peer = (get(levels, c, k) or {} for k in ("gateway_pg", "gateway", "litellm"))
        if not pg:
            continue
        x = times(pg.get("cpu_ms_per_request"), sq.get("cpu_ms_per_request"))
        rows.append((f"CPU per call, PostgreSQL + Redis / SQLite, c={c}", f"≤ 1.3{TIMES}",
                     f"{fmt(pg.get('cpu_ms_per_request'))} / "
                     f"{fmt(sq.get('cpu_ms_per_request'))} ms = {fmt(x, TIMES)}",
                     at_most(x, 1.3)))
        x = times(pg.get("rps"), peer.get("rps"))
        rows.append((f"Throughput on PostgreSQL + Redis, c={c}: Dihya / LiteLLM", f"≥ 3{TIMES}",
                     f"{fmt(pg.get('rps'))} / {fmt(peer.get('rps'))} req/s = {fmt(x, TIMES)}"
                     if peer else NO_PEER, verdict(x >= 3 if x is not None else None)))
        a, b = pg.get("p99_ms"), peer.get("p99_ms")
        rows.append((f"p99 on PostgreSQL + Redis, c={c}: Dihya vs LiteLLM", "below LiteLLM's",
                     f"{fmt(a)} vs {fmt(b)} ms" if peer else NO_PEER,
                     verdict(a < b if a is not None and b is not None else None)))
    return rows


SERVERS = {"relay": "relay", "gateway": "Dihya", "gateway_pg": "Dihya, PostgreSQL + Redis",
           "litellm": "LiteLLM"}


def overhead_table(levels: dict[str, Any]) -> str:
    rows = []
    for c, lv in levels.items():
        for key, label in (("direct", "direct"), *SERVERS.items()):
            x = lv.get(key)
            if x is None:
                continue
            rows.append([c, label, x.get("p50_ms"), x.get("p95_ms"), x.get("p99_ms"),
                         x.get("rps"), x.get("cpu_ms_per_request"),
                         ", ".join(f"{k}: {v}" for k, v in x.get("statuses", {}).items())])
    return table(["concurrency", "server", "p50 ms", "p95 ms", "p99 ms", "req/s",
                  "CPU ms/req", "answers"], rows)


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
           "## Targets (issues 18 and 28)", "",
           table(["what", "target", "measured", "verdict"], [list(t) for t in targets(r)]), ""]
    note = get(r, "overhead", "peer_note")
    if note:
        out += [f"Peer: {note}.", ""]
    out += sections(r)
    from bench import rate_report, streams_report  # they build on this module's cells

    out += streams_report.section(r)
    out += rate_report.section(r)
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
           "event. Beside it, in the same run and on the same fake upstream: the bare relay "
           "(`bench/relay/`: one Django async view, the body parsed by django-ninja, forwarded "
           "with one shared `httpx.AsyncClient`; no database, no middleware), and, after `make "
           "bench-peers`, the LiteLLM proxy in its own virtualenv (var/peers/litellm; no "
           "database, `LITELLM_LOCAL_MODEL_COST_MAP=True`, a master key). Each is one uvicorn "
           "process. CPU per request is the server process's user+system time over the run "
           "divided by the requests (the load generator's CPU is not in it).", ""]
    levels = get(r, "overhead", "levels") or {}
    if levels:
        out += ["## 1. Overhead (non-streamed, fake upstream)", "",
                f"{get(r, 'overhead', 'n')} requests per cell. direct: straight to the fake "
                "upstream; relay: the bare Django async view + ninja body + httpx "
                "(bench/relay/); Dihya: the whole pipeline, on SQLite, and on PostgreSQL + "
                "Redis (the quota tally on) where said; LiteLLM: its proxy, no database. "
                "One uvicorn process each.", "", overhead_table(levels), "",
                table(["concurrency", "CPU Dihya/relay", "req/s Dihya/relay",
                       "p99 Dihya/relay", "CPU Dihya/LiteLLM", "req/s Dihya/LiteLLM",
                       "p99 Dihya/LiteLLM"],
                      [[c, *(fmt(get(lv, "vs_relay", k), TIMES) for k in ("cpu", "rps", "p99")),
                        *(fmt(get(lv, "vs_litellm", k), TIMES) if "vs_litellm" in lv else "—"
                          for k in ("cpu", "rps", "p99"))] for c, lv in levels.items()]), ""]
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
        added = s.get("added_ttft_p50_ms") or {}
        if "direct" in s:
            rows.append([name, s["direct"].get("ttft_p50_ms"),
                         *(f"{fmt(get(s, k, 'ttft_p50_ms'))} (+{fmt(added.get(k))})"
                           if k in s else "—" for k in SERVERS),
                         s["direct"].get("p50_ms"),
                         *(get(s, k, "p50_ms") if k in s else "—" for k in SERVERS)])
        elif s:
            rows.append([name, s.get("skipped", "—"), *["—"] * (2 * len(SERVERS) + 1)])
    if rows:
        out += ["## 2. Streaming (concurrency 1)", "",
                "Time to first token p50 in ms, and in brackets what each server adds to the "
                "direct call's. The servers are measured interleaved (one request to each in "
                "turn), so that the machine's drift falls on all of them alike.", "",
                table(["upstream", "TTFT direct", *(f"TTFT {SERVERS[k]}" for k in SERVERS),
                       "total p50 direct", *(f"total p50 {SERVERS[k]}" for k in SERVERS)],
                      rows), ""]
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
    mk = r.get("masking") or {}
    if mk.get("ms_per_call"):
        out += ["## Masking before egress (lawful egress)", "",
                f"Presidio with spaCy's `fr_core_news_sm` on a {mk['prompt_chars']}-character "
                "request with a name, an e-mail, an IBAN and a phone number, masked and its "
                f"answer restored (best of 3 runs of {mk['calls']}), and the streamed answer's "
                f"restorer on {mk['chunks']} 4-character chunks with placeholders split across "
                "them (`bench/masking.py`). Paid only by calls that reach an engine with "
                "`mask` on.", "",
                table(["analyzer load (once per process) s", "ms per call",
                       "µs per streamed chunk"],
                      [[mk["load_s"], mk["ms_per_call"], mk["us_per_chunk"]]]), ""]
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
        sq = so.get("sqlite") or {}
        out += ["## 7. Scale-out (PostgreSQL + Redis, concurrency 50)", "",
                f"{so.get('n')} requests per run, the same call as section 1. The first row is "
                "SQLite (the main gateway of this run), for the CPU ratio (the gateway "
                "processes' CPU; PostgreSQL's and Redis's own is not in it): PostgreSQL + Redis "
                f"with one process costs {fmt(so.get('cpu_ratio_pg_vs_sqlite'), TIMES)} SQLite's "
                f"CPU per call; 1 → 2 web processes: {TIMES} {fmt(so.get('rps_gain_1_to_2'))} "
                "throughput (the load generator, PostgreSQL and Redis share the same 2 cores).",
                "",
                table(["database", "web processes", "req/s", "p50 ms", "p99 ms", "CPU ms/req",
                       "answers"],
                      ([["SQLite", 1, sq.get("rps"), sq.get("p50_ms"), sq.get("p99_ms"),
                         sq.get("cpu_ms_per_request"), str(sq.get("statuses"))]] if sq else [])
                      + [["PostgreSQL + Redis", x["web_processes"], x["rps"], x["p50_ms"],
                          x["p99_ms"], x.get("cpu_ms_per_request"), str(x["statuses"])]
                         for x in so["runs"]]), ""]
    elif so.get("skipped"):
        out += ["## 7. Scale-out", "", "Skipped: " + so["skipped"], ""]
    from bench import batches  # its section renders with this module's tables

    out += batches.section(r)
    failed = [f"- {k}: {v['failed']}" for k, v in r.items()
              if isinstance(v, dict) and v.get("failed")]
    if failed:
        out += ["## Sections that failed in this run", "", *failed, ""]
    return out
