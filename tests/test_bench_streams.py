"""The long-streams measure sees what a client sees, and its verdicts read the run's ratios.

Its client decodes what it stamped only after the streams end (chunked transfer, then SSE); a
decoding that merged or lost events, or timed them by the wrong read, would make every gap
and burst of docs/benchmarks.md wrong, so it is checked here, and once against the fake
upstream's long streams as the benchmark runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench import procs, streams_client, streams_report
from bench.streams_client import Seen
from bench.upstream import LONG_CHUNKS, LONG_REPLY


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def event(text: str) -> bytes:
    return b"data: " + json.dumps({"choices": [{"delta": {"content": text}}]}).encode() + b"\n\n"


HEAD = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"


def test_events_are_timed_by_the_read_that_completed_them_and_a_burst_is_a_gap_of_zero():
    body = chunk(event("a")) + chunk(event("b")[:10]) + chunk(event("b")[10:] + event("c"))
    body += chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"
    cut = len(HEAD) + len(chunk(event("a"))) + 5  # the second read starts inside a chunk
    seen = Seen(started=0.0, ended=3.0, reads=[(1.0, HEAD + body[:cut]), (2.0, body[cut:])])

    status, events = streams_client.events(seen)

    assert status == 200
    assert [(t, streams_client.content(e)) for t, e in events] == [
        (1.0, "a"), (2.0, "b"), (2.0, "c"), (2.0, None)]
    out = streams_client.summary([seen], expect="abc", wall=3.0)
    assert (out["whole"], out["content_chunks"], out["first_p50_ms"]) == (1, 3, 1000.0)
    assert out["gap_p50_ms"] == 0.0 and out["gap_p99_ms"] == 1000.0  # b and c: one burst


def test_a_stream_cut_short_or_refused_is_not_whole():
    cut = Seen(started=0.0, ended=1.0, reads=[(0.5, HEAD + chunk(event("a")))])
    refused = Seen(started=0.0, ended=1.0, reads=[(0.5, b"HTTP/1.1 503 Service Unavailable\r\n"
                                                        b"content-length: 2\r\n\r\n{}")])
    out = streams_client.summary([cut, refused], expect="a", wall=1.0)
    assert out["whole"] == 0 and out["statuses"] == {"200": 1, "503": 1}


def test_the_long_upstream_streams_in_real_time_to_the_client():
    up, base = procs.upstream()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.streams_client", base + "/long/v1/chat/completions",
             "--n", "3", "--spread", "0.2", "--expect", LONG_REPLY, "--timeout", "20",
             "--body", json.dumps({"model": "fake", "stream": True, "messages": []})],
            cwd=procs.ROOT, capture_output=True, text=True, timeout=60, check=True)
    finally:
        up.stop()
    out = json.loads(done.stdout)
    assert out["whole"] == 3 and out["content_chunks"] == 3 * LONG_CHUNKS
    assert 40 <= out["gap_p50_ms"] <= 70 and out["most_open"] == 3


def test_stream_targets_read_the_ratios_of_the_run_and_say_when_the_peer_is_missing():
    def run(cpu: float, gap_p99: float = 60.0, whole: int = 400, first: float = 800.0) -> dict:
        return {"whole": whole, "cpu_ms_per_1000_chunks": cpu, "gap_p99_ms": gap_p99,
                "first_p99_ms": first, "kb_per_open_stream": 50.0}

    runs = {"400": {"direct": run(40, gap_p99=50), "relay": run(200),
                    "gateway": run(280, gap_p99=120, whole=399)}}
    rows = {r[0]: (r[2], r[3]) for r in streams_report.targets({"runs": runs})}
    assert rows["400 streams: every stream whole (Dihya)"] == ("399 / 400", "**missed**")
    assert rows["400 streams: first chunk p99 (Dihya)"] == ("800 ms", "met")
    assert rows["400 streams: gap between chunks p99, Dihya / direct"][1] == "**missed**"
    assert rows["400 streams: CPU per 1,000 chunks, Dihya / bare relay"] == (
        "280 / 200 ms = 1.40\u00d7", "met")
    assert rows["400 streams: CPU per 1,000 chunks, Dihya / LiteLLM"][1] == "—"
