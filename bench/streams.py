"""Section "streams": many concurrent long streams (issue 28), what the client sees.

N streams at once (100 and 400), started evenly over SPREAD_S seconds, each answered by the
fake upstream's `/long/v1` (LONG_CHUNKS content chunks LONG_GAP_S apart), straight from the
upstream, through the bare relay (a second one, on `/long/v1`), through Dihya (a fresh
uvicorn process, whole pipeline: key, consent, quota, rows, audit) and through the LiteLLM
proxy when `make bench-peers` installed it. The servers are measured one after the other,
each alone on the machine with the upstream and the client (`bench.streams_client`, a
process of its own).

Per server and N: streams whole; the gap between consecutive content chunks, p50 and p99 (a
p50 far under LONG_GAP_S means chunks came in bursts: the server fell behind and flushed what
had piled up); the first content chunk's p99; the server's CPU per 1,000 content chunks
delivered (user + system, its process and children, from before the first stream until it is
idle again, so the recording after the last stream counts); its resident memory before the
streams (after a warm-up) and at its peak, sampled every 50 ms, and that difference over the
most streams the client had open at once.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from bench import load, procs
from bench.context import Bench
from bench.upstream import LONG_CHUNKS, LONG_GAP_S, LONG_REPLY

SIZES = (100, 400)
SPREAD_S = 2.0
MODEL = "long"  # Dihya's route and LiteLLM's model on the upstream's /long/v1 (bench.seed)


def targets(b: Bench, relay: tuple[procs.Proc, str], gateway: tuple[procs.Proc, str],
            ) -> list[tuple[str, str, str, list[str], procs.Proc | None]]:
    """(name, URL, model, headers, process whose CPU and memory count) of each server."""
    out = [("direct", b.upstream + "/long/v1/chat/completions", "fake", [], b.upstream_proc),
           ("relay", load.chat_url(relay[1]), "fake", [], relay[0]),
           ("gateway", load.chat_url(gateway[1]), MODEL, [f"authorization: Bearer {b.key}"],
            gateway[0])]
    if b.peer:
        from bench import peers

        out.append(("litellm", load.chat_url(b.peer), MODEL,
                    [f"authorization: Bearer {peers.MASTER_KEY}"], b.peer_proc))
    return out


def rss_mb(proc: procs.Proc) -> float:
    return round(sum(proc.rss_mb()), 1)


async def idle(proc: procs.Proc, quiet_ms: float = 20.0, cap_s: float = 10.0) -> None:
    """Until the process spends less than `quiet_ms` of CPU in 250 ms (its recording done)."""
    deadline = time.monotonic() + cap_s
    before = proc.cpu_seconds()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        now = proc.cpu_seconds()
        if (now - before) * 1000 < quiet_ms:
            return
        before = now


async def client(url: str, model: str, headers: list[str], n: int,
                 timeout: float) -> dict[str, Any]:
    body = json.dumps({"model": model, "messages": load.HELLO, "max_tokens": 64,
                       "stream": True, "user": "alice"})
    args = [sys.executable, "-m", "bench.streams_client", url, "--n", str(n), "--spread",
            str(SPREAD_S), "--body", body, "--expect", LONG_REPLY, "--timeout", str(timeout)]
    for h in headers:
        args += ["--header", h]
    child = await asyncio.create_subprocess_exec(*args, cwd=procs.ROOT,
                                                 stdout=asyncio.subprocess.PIPE,
                                                 stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(child.communicate(), timeout + SPREAD_S + 30)
    except TimeoutError:
        child.kill()
        await child.wait()
        raise
    if child.returncode:
        raise RuntimeError(f"streams client failed:\n{err.decode()[-2000:]}")
    return json.loads(out)


async def measure(url: str, model: str, headers: list[str], n: int,
                  proc: procs.Proc | None, timeout: float) -> dict[str, Any]:
    await client(url, model, headers, 5, timeout)  # warm-up: imports, connections, caches
    if proc is not None:
        await idle(proc)
    idle_mb = rss_mb(proc) if proc is not None else None
    peak = idle_mb or 0.0
    cpu0 = proc.cpu_seconds() if proc is not None else 0.0
    task = asyncio.create_task(client(url, model, headers, n, timeout))
    while not task.done():
        await asyncio.wait({task}, timeout=0.05)
        if proc is not None:
            peak = max(peak, rss_mb(proc))
    seen = task.result()
    if proc is None:
        return seen
    await idle(proc)
    cpu_ms = (proc.cpu_seconds() - cpu0) * 1000
    chunks = seen["content_chunks"]
    seen.update(cpu_ms=round(cpu_ms), cpu_ms_per_1000_chunks=round(cpu_ms * 1000 / chunks, 1)
                if chunks else None, idle_mb=idle_mb, peak_mb=peak,
                kb_per_open_stream=round((peak - idle_mb) * 1024 / seen["most_open"], 1)
                if idle_mb is not None and seen["most_open"] else None)
    return seen


async def streams(b: Bench) -> dict[str, Any]:
    out: dict[str, Any] = {"chunks_per_stream": LONG_CHUNKS, "gap_ms": LONG_GAP_S * 1000,
                           "spread_s": SPREAD_S, "runs": {}}
    if not b.peer:
        out["peer_note"] = b.peer_note
    relay = procs.relay(b.upstream + "/long/v1", name="relay-long")
    try:
        gateway = procs.gateway(b.database_url, name="gateway-streams")
    except BaseException:
        relay[0].stop()
        raise
    try:
        for size in SIZES:
            n = b.size(size, minimum=10)
            runs: dict[str, Any] = {}
            for name, url, model, headers, proc in targets(b, relay, gateway):
                try:
                    runs[name] = await measure(url, model, headers, n, proc,
                                               timeout=max(b.cap, 60.0))
                except Exception as exc:  # one server failing leaves the others measured
                    runs[name] = {"failed": f"{type(exc).__name__}: {exc}"[:1000]}
                r = runs[name]
                b.say(f"streams n={n} {name}: {r.get('whole')}/{n} whole, gap p50/p99 "
                      f"{r.get('gap_p50_ms')}/{r.get('gap_p99_ms')} ms, first p99 "
                      f"{r.get('first_p99_ms')} ms, {r.get('cpu_ms_per_1000_chunks', '-')} ms "
                      f"CPU/1000 chunks, {r.get('idle_mb', '-')} → {r.get('peak_mb', '-')} MB"
                      + (f" ({r['failed']})" if "failed" in r else ""))
                await asyncio.sleep(1.0)
            out["runs"][str(n)] = runs
    finally:
        gateway[0].stop()
        relay[0].stop()
    return out
