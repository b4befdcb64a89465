"""The sustainable-rate section of docs/benchmarks.md: issue 28's rate target beside the figures
of the same run, then what each server sustained (bench/rate.py measures them)."""

from __future__ import annotations

from typing import Any

from bench.report import NO_PEER, TIMES, fmt, get, table, times, verdict

ORDER = ("relay", "sqlite", "sqlite-plans", "pg", "pg-plans", "litellm")
DIHYA = {"sqlite": "Dihya on SQLite, no plan", "sqlite-plans": "Dihya on SQLite, plans",
         "pg": "Dihya on PostgreSQL + Redis, no plan",
         "pg-plans": "Dihya on PostgreSQL + Redis, plans"}


def num(x: Any) -> str:
    """A rate or a setting as written: 20, 113, 1.5 (not 20.00)."""
    return f"{x:g}" if isinstance(x, int | float) else fmt(x)


def targets(s: dict[str, Any]) -> list[list[str]]:
    """Dihya's rate per core over LiteLLM's, on each setup and call (3 times or more wanted)."""
    runs = s.get("targets") or {}
    peer = runs.get("litellm") or {}
    rows = []
    for key, label in DIHYA.items():
        if key not in runs:
            continue
        g = runs[key]
        x = times(g.get("per_core"), peer.get("per_core"))
        y = times(g.get("sustained_rps"), peer.get("sustained_rps"))
        rows.append([f"Sustainable rate per core, {label} / LiteLLM", f"≥ 3{TIMES}",
                     f"{num(g.get('per_core'))} / {num(peer.get('per_core'))} calls/s per core "
                     f"= {fmt(x, TIMES)} (the rates: {num(g.get('sustained_rps'))} / "
                     f"{num(peer.get('sustained_rps'))} = {fmt(y, TIMES)})"
                     if x is not None else NO_PEER if not peer else "—",
                     verdict(x >= 3 if x is not None else None)])
    return rows


def section(r: dict[str, Any]) -> list[str]:
    s = r.get("rate") or {}
    if not s.get("targets"):
        return ([f"## Sustainable rate per core (issue 28)\n\nFailed: {s['failed']}\n"]
                if s.get("failed") else [])
    runs = s["targets"]
    rows = []
    for key in (k for k in ORDER if k in runs):
        x = runs[key]
        if "failed" in x:
            rows.append([x.get("what", key), "failed: " + x["failed"][:200], *["—"] * 6])
            continue
        failing = x.get("first_failing_rps")
        rows.append([x.get("what", key),
                     num(x.get("sustained_rps")) + (" (cap reached)" if x.get("bounded_by_cap")
                                                    else ""),
                     f"{fmt(x.get('p95_ms'))} (+{fmt(x.get('added_p95_ms'))})",
                     x.get("cores"), num(x.get("per_core")), x.get("cpu_ms_per_request"),
                     f"{num(failing)}: {x.get('why_it_failed')}" if failing else "none found",
                     len(x.get("steps") or [])])
    direct = ", ".join(f"{num(d['rps'])}/s {fmt(d.get('p95_ms'))} ms"
                       + (f" ({d['fails']})" if d.get("fails") else "")
                       for d in s.get("direct") or [])
    merged = get(r, "meta", "merged", "rate")
    when = (f" Measured in a run of its own (`make bench BENCH=rate`) on {merged.get('cpu')}, "
            f"{merged.get('cores')} cores: commit {merged.get('commit')}, load average at its "
            f"end {merged.get('load_average_at_end')}." if merged else "")
    out = ["## Sustainable rate per core (issue 28)", "",
           "The highest fixed arrival rate — calls started on a schedule, open loop, not by a "
           "fixed number of workers that wait for their answers — at which a server answers "
           "every call right, no arrival is dropped (started over "
           f"{num(s.get('late_ms'))} ms late by the load generator, or unanswered) and the "
           "p95 adds at most "
           f"{num(s.get('added_p95_budget_ms'))} ms to the direct upstream's p95 at the same "
           "rate (`bench/rate.py`). Non-streamed chat completions on the fake upstream (answers "
           "at once); one uvicorn process per server; the client is `bench/rate_client.py` in "
           f"a process of its own. From {num(s.get('start_rps'))} calls/s, doubled while the "
           "server passes, then the ratio between the last pass and the first failure bisected "
           f"{s.get('bisections')} times; {num(s.get('step_s'))} s a step, at most "
           f"{num(s.get('cap_s'))} s a server (\"cap reached\": the search stopped there)"
           + ("; a rate failing only by its p95 or a late start is tried once more and fails "
              "when both tries do" if s.get("retried") else "") + ". Per "
           "core: the rate over the cores the server's process used in that step (its CPU "
           "seconds over the step's wall seconds; PostgreSQL's and Redis's own CPU is not in "
           "it). Dihya is measured twice on each setup: a client with no quota plan and no end "
           "user (nothing counted), and the call of section 1 (the client's plan and the end "
           "user's default plan, reserved and settled)." + when, "",
           table(["what", "target", "measured", "verdict"], targets(s)), ""]
    if s.get("peer_note"):
        out += [f"Peer: {s['peer_note']}.", ""]
    if s.get("pg_skipped"):
        out += [f"PostgreSQL + Redis skipped: {s['pg_skipped']}.", ""]
    out += [table(["server", "sustained calls/s", "p95 ms (added)", "cores used",
                   "calls/s per core", "CPU ms/call", "first failing rate: why", "steps"],
                  rows), ""]
    if direct:
        out += [f"Direct upstream p95 at each rate measured: {direct}.", ""]
    return out
