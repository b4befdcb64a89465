"""The long-streams section of docs/benchmarks.md: issue 28's stream targets beside the figures
of the same run, then the table of what each server did (bench/streams.py measures them)."""

from __future__ import annotations

from typing import Any

from bench.report import NO_PEER, TIMES, at_most, fmt, get, table, times, verdict

LABELS = {"direct": "direct upstream", "relay": "bare relay", "gateway": "Dihya",
          "litellm": "LiteLLM"}


def targets(s: dict[str, Any]) -> list[list[str]]:
    """Issue 28's targets for streams, each beside its figure (ratios within this run)."""
    runs = s.get("runs") or {}
    sizes = sorted(runs, key=int)
    rows = []
    for n in sizes:
        g = get(runs, n, "gateway") or {}
        rows.append([f"{n} streams: every stream whole (Dihya)", f"{n} / {n}",
                     f"{fmt(g.get('whole'))} / {n}",
                     verdict(g.get("whole") == int(n) if "whole" in g else None)])
    if sizes:
        n = sizes[-1]
        g, d = get(runs, n, "gateway") or {}, get(runs, n, "direct") or {}
        first = g.get("first_p99_ms")
        rows.append([f"{n} streams: first chunk p99 (Dihya)", "≤ 1 s", fmt(first, " ms"),
                     at_most(first, 1000)])
        x = times(g.get("gap_p99_ms"), d.get("gap_p99_ms"))
        rows.append([f"{n} streams: gap between chunks p99, Dihya / direct", f"≤ 2{TIMES}",
                     f"{fmt(g.get('gap_p99_ms'))} / {fmt(d.get('gap_p99_ms'))} ms = "
                     f"{fmt(x, TIMES)}" if x is not None else "—", at_most(x, 2)])
    for n in sizes:
        g = get(runs, n, "gateway", "cpu_ms_per_1000_chunks")
        peer = get(runs, n, "litellm", "cpu_ms_per_1000_chunks")
        relay = get(runs, n, "relay", "cpu_ms_per_1000_chunks")
        x = times(g, peer)
        rows.append([f"{n} streams: CPU per 1,000 chunks, Dihya / LiteLLM", f"≤ 0.1{TIMES}",
                     f"{fmt(g)} / {fmt(peer)} ms = {fmt(x, TIMES)}" if x is not None else
                     NO_PEER if g is not None else "—", at_most(x, 0.1)])
        x = times(g, relay)
        rows.append([f"{n} streams: CPU per 1,000 chunks, Dihya / bare relay", f"≤ 1.5{TIMES}",
                     f"{fmt(g)} / {fmt(relay)} ms = {fmt(x, TIMES)}" if x is not None else "—",
                     at_most(x, 1.5)])
        kb = get(runs, n, "gateway", "kb_per_open_stream")
        rows.append([f"{n} streams: memory per open stream (Dihya, peak - idle)", "reported",
                     fmt(kb, " KB"), "—"])
    return rows


def section(r: dict[str, Any]) -> list[str]:
    s = r.get("streams") or {}
    if not s.get("runs"):
        return ([f"## Many concurrent long streams (issue 28)\n\nFailed: {s['failed']}\n"]
                if s.get("failed") else [])
    rows = []
    for n, runs in sorted(s["runs"].items(), key=lambda kv: int(kv[0])):
        for key, label in LABELS.items():
            x = runs.get(key)
            if x is None:
                continue
            if "failed" in x:
                rows.append([n, label, "failed: " + x["failed"][:200], *["—"] * 6])
                continue
            rows.append([n, label, f"{x.get('whole')} / {x.get('streams')}",
                         f"{fmt(x.get('gap_p50_ms'))} / {fmt(x.get('gap_p99_ms'))}",
                         f"{fmt(x.get('first_p50_ms'))} / {fmt(x.get('first_p99_ms'))}",
                         x.get("cpu_ms_per_1000_chunks"),
                         f"{fmt(x.get('idle_mb'))} → {fmt(x.get('peak_mb'))}",
                         x.get("kb_per_open_stream"), x.get("most_open")])
    merged = get(r, "meta", "merged", "streams")
    when = (f" Measured in a run of its own (`make bench BENCH=streams`) on {merged.get('cpu')}, "
            f"{merged.get('cores')} cores: commit {merged.get('commit')}, load average at its "
            f"end {merged.get('load_average_at_end')}." if merged else "")
    out = ["## Many concurrent long streams (issue 28)", "",
           f"N streams at once, started evenly over {fmt(s.get('spread_s'))} s; the fake "
           f"upstream sends each {s.get('chunks_per_stream')} content chunks "
           f"{fmt(s.get('gap_ms'))} ms apart (`bench/streams.py`, client "
           "`bench/streams_client.py` in a process of its own, one connection per stream). "
           "Servers measured one after the other; CPU is the server's, from before the first "
           "stream until it is idle again (Dihya's recording of the calls included), per "
           "1,000 content chunks delivered; memory is its resident size after a warm-up and "
           "at its peak. A gap p50 far under the upstream's gap means chunks arrive in bursts."
           + when, "",
           table(["what", "target", "measured", "verdict"], targets(s)), ""]
    if s.get("peer_note"):
        out += [f"Peer: {s['peer_note']}.", ""]
    out += [table(["streams", "server", "whole", "gap p50 / p99 ms", "first chunk p50 / p99 ms",
                   "CPU ms / 1,000 chunks", "memory MB idle → peak", "KB per open stream",
                   "most open at once"], rows), ""]
    return out
