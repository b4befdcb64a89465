"""The benchmark's floor and its verdicts: the bare relay really relays, the targets table reads
the ratios of the run and says "not measured" where a figure is missing.

The relay and the fake upstream run as the benchmark runs them (their own processes, loopback
only); a wrong answer from either would make every "Dihya / relay" ratio of docs/benchmarks.md
meaningless, so this is checked here rather than trusted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from bench import procs, report

HELLO = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4,
         "user": "alice"}


@pytest.fixture(scope="module")
def relay() -> Iterator[str]:
    up, upstream = procs.upstream()
    try:
        proc, base = procs.relay(upstream + "/ok/v1", name="relay-test")
    except BaseException:
        up.stop()
        raise
    yield base + "/v1/chat/completions"
    proc.stop()
    up.stop()


def test_relay_forwards_a_call_to_the_upstream_and_its_answer_back(relay):
    answer = httpx.post(relay, json=HELLO, timeout=10, trust_env=False)
    assert answer.status_code == 200
    body = answer.json()
    assert body["choices"][0]["message"]["content"] == "Hello from the fake engine."
    assert body["usage"]["total_tokens"] == 19


def test_relay_streams_the_upstream_events_through(relay):
    with httpx.stream("POST", relay, json={**HELLO, "stream": True}, timeout=10,
                      trust_env=False) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = [line[6:] for line in answer.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    words = [json.loads(e)["choices"][0]["delta"].get("content", "")
             for e in events[:-1] if json.loads(e)["choices"]]
    assert "".join(words) == "Hello from the fake engine."


def test_relay_parses_the_body_with_its_schema(relay):
    answer = httpx.post(relay, json={"model": 1}, timeout=10, trust_env=False)
    assert answer.status_code == 422  # ninja's validation: messages missing, model not a string


def cell(rps: float, cpu: float, p99: float) -> dict[str, float]:
    return {"rps": rps, "cpu_ms_per_request": cpu, "p99_ms": p99}


def verdicts(results: dict) -> dict[str, tuple[str, str]]:
    return {what: (measured, verdict) for what, _, measured, verdict in report.targets(results)}


def test_targets_compare_dihya_with_the_relay_and_say_when_the_peer_was_not_measured():
    levels = {c: {"gateway": cell(100, 2.5, 50), "relay": cell(400, 2.0, 40)}
              for c in ("1", "10", "50")}
    levels["50"]["gateway"]["cpu_ms_per_request"] = 3.0
    rows = verdicts({"overhead": {"levels": levels}})
    assert rows["CPU per non-streamed call, whole pipeline, c=1: Dihya / bare relay"] == (
        "2.50 / 2.00 ms = 1.25\u00d7", "met")
    assert rows["CPU per non-streamed call, whole pipeline, c=50: Dihya / bare relay"][1] == (
        "**missed**")
    assert rows["Throughput, c=10: Dihya / LiteLLM"] == (report.NO_PEER, "—")
    assert rows["p99 at c=50: Dihya vs LiteLLM"] == (report.NO_PEER, "—")


def test_targets_hold_dihya_to_three_times_the_peer_and_a_lower_tail():
    levels = {c: {"gateway": cell(300, 2.5, 90), "relay": cell(400, 2.0, 40),
                  "litellm": cell(100, 10.0, 100)} for c in ("1", "10", "50")}
    levels["10"]["gateway"]["p99_ms"] = 120
    so = {"sqlite": cell(300, 4.0, 90), "cpu_ratio_pg_vs_sqlite": 1.5, "rps_gain_1_to_2": 1.4,
          "runs": [{**cell(290, 6.0, 95), "web_processes": 1}]}
    rows = verdicts({"overhead": {"levels": levels}, "scaleout": so})
    assert rows["Throughput, c=1: Dihya / LiteLLM"][1] == "met"
    assert rows["p99 at c=10: Dihya vs LiteLLM"] == ("120 vs 100 ms", "**missed**")
    assert rows["p99 at c=50: Dihya vs LiteLLM"][1] == "met"
    pg = rows["CPU per call, PostgreSQL + Redis / SQLite (same call, c=50, one process)"]
    assert pg == ("6.00 / 4.00 ms = 1.50\u00d7", "**missed**")
    assert rows["Throughput on PostgreSQL + Redis, c=50, one process / LiteLLM's at c=50"][1] == (
        "**missed**")  # 290 / 100 is 2.9, under 3
