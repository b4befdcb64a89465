"""The load generator: N requests at concurrency C, bounded in count and in time.

One `httpx.AsyncClient` with pooled keep-alive connections, like a real SDK client. Latency is
measured per request from send to the last byte (or to the first content chunk for TTFT).
The gateway's CPU is read from the kernel around the run (`Proc.cpu_seconds`), so the load
generator's own cost never counts as the gateway's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.procs import Proc

HELLO = [{"role": "user", "content": "Say hello to the benchmark."}]


def body(model: str, *, stream: bool = False, max_tokens: int = 16,
         user: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"model": model, "messages": HELLO, "max_tokens": max_tokens}
    if stream:
        b["stream"] = True
    if user:
        b["user"] = user
    return b


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[k], 2)


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # ms, successful requests
    ttft: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    wall: float = 0.0
    cpu_ms_per_request: float | None = None
    timed_out: bool = False

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": sum(self.statuses.values()),
            "ok": self.ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "p50_ms": pct(self.latencies, 50), "p95_ms": pct(self.latencies, 95),
            "p99_ms": pct(self.latencies, 99),
            "rps": round(self.ok / self.wall, 1) if self.wall else None,
        }
        if self.ttft:
            out.update(ttft_p50_ms=pct(self.ttft, 50), ttft_p95_ms=pct(self.ttft, 95),
                       ttft_mean_ms=round(statistics.fmean(self.ttft), 2))
        if self.cpu_ms_per_request is not None:
            out["cpu_ms_per_request"] = round(self.cpu_ms_per_request, 2)
        if self.timed_out:
            out["timed_out"] = True
        return out


def has_text(line: str) -> bool:
    """A chunk that carries generated text (not the role-only first chunk some servers send)."""
    try:
        choices = json.loads(line[6:]).get("choices") or [{}]
    except ValueError:
        return False
    return bool((choices[0].get("delta") or {}).get("content"))


def client(concurrency: int, timeout: float = 60.0) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False)


async def one(http: httpx.AsyncClient, url: str, payload: dict[str, Any],
              headers: dict[str, str], run: Run) -> None:
    started = time.perf_counter()
    try:
        if payload.get("stream"):
            async with http.stream("POST", url, json=payload, headers=headers) as response:
                first = None
                async for line in response.aiter_lines():
                    if first is None and line.startswith("data: {") and has_text(line):
                        first = time.perf_counter()
                if first is not None:
                    run.ttft.append((first - started) * 1000)
                status = response.status_code
        else:
            response = await http.post(url, json=payload, headers=headers)
            status = response.status_code
    except httpx.HTTPError as exc:
        run.statuses[type(exc).__name__] += 1
        return
    run.statuses[status] += 1
    if status == 200:
        run.latencies.append((time.perf_counter() - started) * 1000)


async def load(url: str, payload: dict[str, Any], *, n: int, concurrency: int,
               headers: dict[str, str] | None = None, proc: Proc | None = None,
               max_seconds: float = 60.0, warmup: int = 0) -> Run:
    """Send `n` requests with at most `concurrency` in flight; stop early after max_seconds."""
    headers = headers or {}
    run = Run()
    async with client(concurrency) as http:
        if warmup:  # open connections and fill the gateway's caches before the clock starts
            scratch = Run()
            await asyncio.gather(*(one(http, url, payload, headers, scratch)
                                   for _ in range(min(warmup, concurrency))))
            for _ in range(max(0, warmup - concurrency)):
                await one(http, url, payload, headers, scratch)
        queue = iter(range(n))
        deadline = time.monotonic() + max_seconds

        async def worker() -> None:
            for _ in queue:
                if time.monotonic() > deadline:
                    run.timed_out = True
                    return
                await one(http, url, payload, headers, run)

        cpu0 = proc.cpu_seconds() if proc else 0.0
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.wall = time.perf_counter() - t0
        if proc is not None:
            done = sum(run.statuses.values())
            run.cpu_ms_per_request = (proc.cpu_seconds() - cpu0) * 1000 / max(1, done)
    return run


@dataclass
class Case:
    """One server of an interleaved comparison: where to send what, and whose CPU to read."""

    url: str
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    proc: Proc | None = None


async def interleaved(cases: dict[str, Case], *, n: int, warmup: int = 0,
                      max_seconds: float = 60.0) -> dict[str, Run]:
    """`n` rounds of one request to each case in turn, at concurrency 1. On a shared machine
    whose speed drifts (other work, the engine's own warm-up) every case shifts alike, where
    sequential runs would put the drift into the differences. Each server serves only its own
    requests, so its CPU per request is still its own."""
    runs = {name: Run() for name in cases}
    async with contextlib.AsyncExitStack() as stack:
        http = {name: await stack.enter_async_context(client(1)) for name in cases}
        for _ in range(warmup):
            for name, c in cases.items():
                await one(http[name], c.url, c.payload, c.headers, Run())
        cpu0 = {name: c.proc.cpu_seconds() for name, c in cases.items() if c.proc}
        deadline = time.monotonic() + max_seconds
        for _ in range(n):
            if time.monotonic() > deadline:
                for run in runs.values():
                    run.timed_out = True
                break
            for name, c in cases.items():
                t0 = time.perf_counter()
                await one(http[name], c.url, c.payload, c.headers, runs[name])
                runs[name].wall += time.perf_counter() - t0
        for name, c in cases.items():
            if c.proc is not None:
                done = sum(runs[name].statuses.values())
                runs[name].cpu_ms_per_request = ((c.proc.cpu_seconds() - cpu0[name]) * 1000
                                                 / max(1, done))
    return runs


async def burst(url: str, payload: dict[str, Any], *, n: int, headers: dict[str, str],
                timeout: float = 120.0) -> Run:
    """`n` requests all at once (one connection each), as many as the server lets in."""
    run = Run()
    async with client(n, timeout) as http:
        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(http, url, payload, headers, run)
                                                for _ in range(n))), timeout)
        run.wall = time.perf_counter() - t0
    return run


def chat_url(base: str) -> str:
    return base.rstrip("/") + "/v1/chat/completions"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True)
