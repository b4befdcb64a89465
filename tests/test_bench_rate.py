"""The sustainable-rate measure searches as it says, its client counts what it says, and its
verdicts read the run's ratios.

The search (doubling, then bisecting the ratio) and the client's stop rules decide every figure
of the section, so they are pinned here without timing anything: the search against a server
that passes below a known rate, the client against the fake upstream at a rate far below what
it answers, and against answers it must count as errors.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from bench import procs, rate, rate_report
from bench.rate_client import Tally
from bench.upstream import REPLY


def search(limit: float, bisections: int = 3, budget: int = 100) -> tuple[dict, list[float]]:
    probed: list[float] = []

    async def probe(r: float) -> bool:
        probed.append(r)
        return r <= limit

    out = asyncio.run(rate.ladder(probe, lambda: len(probed) >= budget, bisections))
    return out, probed


def test_the_rate_doubles_while_it_passes_then_the_ratio_is_bisected():
    out, probed = search(limit=200)
    assert probed == [20, 40, 80, 160, 320, 226, 190, 207]
    assert (out["sustained_rps"], out["first_failing_rps"]) == (190, 207)
    assert not out["bounded_by_cap"]


def test_a_server_failing_the_first_rate_is_placed_below_it():
    out, probed = search(limit=6, bisections=1)
    assert probed == [20, 10, 5, 7]
    assert (out["sustained_rps"], out["first_failing_rps"]) == (5, 7)


def test_the_search_stops_at_its_time_cap_and_says_so():
    out, probed = search(limit=10_000, budget=3)
    assert probed == [20, 40, 80]
    assert out["sustained_rps"] == 80 and out["first_failing_rps"] is None
    assert out["bounded_by_cap"]


def test_a_step_stops_at_the_first_drop_or_error_or_once_its_p95_cannot_pass():
    late = Tally(planned=100, budget_ms=100, late=1)
    late.check(0.0)
    assert late.stopped == "dropped: started late"
    refused = Tally(planned=100, budget_ms=100)
    refused.statuses["503"] += 1
    refused.check(0.0)
    assert refused.stopped == "errors"
    slow = Tally(planned=100, budget_ms=100, over_budget=4)
    slow.in_flight = {1: 0.0, 2: 0.5, 3: 0.95}  # at 1.0 s: two waiting over 100 ms
    slow.check(1.0)
    assert slow.stopped == ""  # 6 of 100: its p95 may still pass
    slow.over_budget = 5
    slow.check(1.0)
    assert slow.stopped == "p95 over budget"


def client(url: str, *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.rate_client", url, "--rate", "50", "--duration", "0.4",
         "--body", json.dumps({"model": "fake", "messages": []}), "--timeout", "10",
         "--late-ms", "10000", *extra],
        cwd=procs.ROOT, capture_output=True, text=True, timeout=60, check=True)
    go, seen = done.stdout.split("\n", 1)
    assert go == "go"
    return json.loads(seen)


def test_the_client_starts_every_planned_call_and_counts_right_and_wrong_answers():
    up, base = procs.upstream()
    try:
        right = client(base + "/ok/v1/chat/completions", "--expect", REPLY)
        wrong = client(base + "/ok/v1/chat/completions", "--expect", "not in the reply")
        refused = client(base + "/e500/v1/chat/completions", "--expect", REPLY)
    finally:
        up.stop()
    assert (right["planned"], right["ok"], right["errors"], right["stopped"]) == (20, 20, 0, None)
    assert right["p95_ms"] is not None and right["no_answer"] == 0
    assert set(wrong["statuses"]) == {"200 without the reply"} and wrong["ok"] == 0
    assert wrong["stopped"] == "errors"
    assert set(refused["statuses"]) == {"500"} and refused["stopped"] == "errors"


def test_rate_targets_read_the_ratios_per_core_and_say_when_the_peer_is_missing():
    def run(rps: float, per_core: float) -> dict:
        return {"sustained_rps": rps, "per_core": per_core}

    runs = {"sqlite": run(200, 240), "pg-plans": run(100, 150), "litellm": run(30, 60)}
    rows = {r[0]: (r[2], r[3]) for r in rate_report.targets({"targets": runs})}
    assert rows["Sustainable rate per core, Dihya on SQLite, no plan / LiteLLM"] == (
        "240 / 60 calls/s per core = 4.00\u00d7 (the rates: 200 / 30 = 6.67\u00d7)", "met")
    assert rows["Sustainable rate per core, Dihya on PostgreSQL + Redis, plans / LiteLLM"][1] == (
        "**missed**")
    del runs["litellm"]
    rows = {r[0]: (r[2], r[3]) for r in rate_report.targets({"targets": runs})}
    assert rows["Sustainable rate per core, Dihya on SQLite, no plan / LiteLLM"][1] == "—"
