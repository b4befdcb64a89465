"""Section 1 (overhead) and 2 (streaming): what the gateway adds to a call, and at what CPU.

Each concurrency level is measured in the same run straight to the fake upstream, through the
bare relay (bench/relay/: Django async view + ninja body + httpx, nothing else), through
`/v1/chat/completions` with the whole pipeline on (API key, consent of an end user, quota
reservation and settlement on two subjects, generation and attempt rows, audit event) and,
when `make bench-peers` installed it, through the LiteLLM proxy (one process, no database).
Every server is one uvicorn process; its CPU per request comes from the kernel. The ratios
Dihya/relay and Dihya/LiteLLM are computed here, next to the figures they come from.
"""

from __future__ import annotations

from typing import Any

from bench import load, procs
from bench.context import Bench

N = 500  # requests per cell at full scale, as issue 18 measures


Server = tuple[str, str, str, dict[str, str], "procs.Proc | None"]


def servers_under_test(b: Bench) -> list[Server]:
    """(name, chat URL, model, headers, process) of every server a cell goes through."""
    out: list[Server] = [
        ("relay", load.chat_url(b.relay), "fake", {}, b.relay_proc),
        ("gateway", load.chat_url(b.gateway), "bench", load.auth(b.key), b.gateway_proc)]
    if b.peer:
        from bench import peers

        out.append(("litellm", load.chat_url(b.peer), "bench", load.auth(peers.MASTER_KEY),
                    b.peer_proc))
    return out


def ratio(a: Any, b: Any, digits: int = 2) -> float | None:
    return round(a / b, digits) if isinstance(a, int | float) and b else None


def compare(g: dict[str, Any], other: dict[str, Any]) -> dict[str, float | None]:
    """Dihya's figures over another server's: CPU per call, throughput and p99."""
    return {"cpu": ratio(g.get("cpu_ms_per_request"), other.get("cpu_ms_per_request")),
            "rps": ratio(g.get("rps"), other.get("rps")),
            "p99": ratio(g.get("p99_ms"), other.get("p99_ms"))}


async def overhead(b: Bench) -> dict[str, Any]:
    out: dict[str, Any] = {"server": b.server, "levels": {}, "n": b.size(N)}
    if b.peer_note:
        out["peer_note"] = b.peer_note
    direct_url = b.upstream + "/ok/v1/chat/completions"
    servers = servers_under_test(b)
    scaled = None  # the same call on the scale-out setup, in the same cells (issue 28)
    if not b.quick and procs.postgres_available() and procs.redis_available():
        url = procs.fresh_postgres()
        procs.flush_redis()
        seeded = procs.seed(url, b.upstream, redis_url=procs.REDIS_URL)
        scaled, base = procs.gateway(url, redis_url=procs.REDIS_URL, name="gateway-pg")
        servers.insert(2, ("gateway_pg", load.chat_url(base), "bench",
                           load.auth(seeded["key"]), scaled))
    try:
        for concurrency in (1, 10, 50):
            out["levels"][str(concurrency)] = await level_of(b, servers, direct_url,
                                                             concurrency)
    finally:
        if scaled is not None:
            scaled.stop()
    return out


async def level_of(b: Bench, servers: list[Server], direct_url: str,
                   concurrency: int) -> dict[str, Any]:
    """One concurrency: straight to the upstream, then through each server, N calls each."""
    n = b.size(N)
    direct = await load.load(direct_url, load.body("fake"), n=n, concurrency=concurrency,
                             proc=b.upstream_proc, warmup=20, max_seconds=b.cap)
    level: dict[str, Any] = {"direct": direct.summary()}
    for name, url, model, headers, proc in servers:
        run = await load.load(url, load.body(model, user="alice"), n=n,
                              concurrency=concurrency, headers=headers, proc=proc,
                              warmup=50, max_seconds=b.cap)
        level[name] = run.summary()
    d, g = level["direct"], level["gateway"]
    if d["p50_ms"] is not None and g["p50_ms"] is not None:
        level["added_p50_ms"] = round(g["p50_ms"] - d["p50_ms"], 2)
        level["added_p99_ms"] = round(g["p99_ms"] - d["p99_ms"], 2)
        level["rps_ratio"] = ratio(g["rps"], d["rps"], 3)
    level["vs_relay"] = compare(g, level["relay"])
    if "litellm" in level:
        level["vs_litellm"] = compare(g, level["litellm"])
    if "gateway_pg" in level:
        level["pg_vs_sqlite"] = compare(level["gateway_pg"], g)
        if "litellm" in level:
            level["pg_vs_litellm"] = compare(level["gateway_pg"], level["litellm"])
    b.say(f"overhead c={concurrency}: " + " | ".join(
        f"{k} {v['rps']} req/s p99 {v['p99_ms']} ms "
        f"{v.get('cpu_ms_per_request', '-')} ms CPU {v['statuses']}"
        for k, v in level.items() if isinstance(v, dict) and "statuses" in v))
    return level


async def streaming(b: Bench) -> dict[str, Any]:
    """Time to first token at concurrency 1, direct and through each server, interleaved."""
    out: dict[str, Any] = {}
    cases = {"direct": load.Case(b.upstream + "/ok/v1/chat/completions",
                                 load.body("fake", stream=True), proc=b.upstream_proc)}
    for name, url, model, headers, proc in servers_under_test(b):
        cases[name] = load.Case(url, load.body(model, stream=True, user="alice"), headers, proc)
    runs = await load.interleaved(cases, n=b.size(200), warmup=20, max_seconds=b.cap)
    out["fake"] = pair(runs)
    b.say("streaming fake: TTFT direct " + str(out["fake"]["direct"].get("ttft_p50_ms"))
          + " ms, added " + str(out["fake"]["added_ttft_p50_ms"]))
    if b.llama:
        await llama(b, out)
    else:
        out["llama"] = {"skipped": "not started in a --quick or --no-llama run" if b.quick
                        or b.no_llama else "the local engine (xllamacpp + SmolLM2) is not "
                        "installed"}
    return out


async def llama(b: Bench, out: dict[str, Any]) -> None:
    relay_proc, relay = procs.relay(b.llama, name="relay-llama")
    try:
        def case(url: str, model: str, headers: dict[str, str] | None = None,
                 user: str | None = "alice") -> load.Case:
            return load.Case(url, load.body(model, stream=True, max_tokens=16, user=user),
                             headers or {})

        cases = {"direct": case(b.llama + "/chat/completions", "smollm2-135m", user=None),
                 "relay": case(load.chat_url(relay), "smollm2-135m"),
                 "gateway": case(load.chat_url(b.gateway), "llama", load.auth(b.key))}
        if b.peer:
            from bench import peers

            cases["litellm"] = case(load.chat_url(b.peer), "llama", load.auth(peers.MASTER_KEY))
        runs = await load.interleaved(cases, n=b.size(20, minimum=5), warmup=2,
                                      max_seconds=b.cap * 2)
    finally:
        relay_proc.stop()
    out["llama"] = pair(runs)
    b.say(f"streaming llama: TTFT direct {out['llama']['direct'].get('ttft_p50_ms')} ms, "
          f"added {out['llama']['added_ttft_p50_ms']}")
    # Direct, through the gateway, direct again: llama.cpp's own time varies a lot when
    # the two cores are shared, and the two direct runs show by how much.
    many = b.size(50, minimum=10)
    bursts = []
    for where in ("direct", "gateway", "direct"):
        url, model, headers = ((b.llama + "/chat/completions", "smollm2-135m", {})
                               if where == "direct" else
                               (load.chat_url(b.gateway), "llama", load.auth(b.key)))
        body = load.body(model, stream=True, max_tokens=4,
                         user="alice" if where == "gateway" else None)
        burst = await load.burst(url, body, n=many, headers=headers, timeout=b.cap * 2)
        bursts.append((where, burst))
    out["llama_concurrent"] = {
        "streams": many, "gateway_wall_s": round(bursts[1][1].wall, 2),
        "direct_wall_s": [round(bursts[0][1].wall, 2), round(bursts[2][1].wall, 2)],
        "gateway": bursts[1][1].summary(), "direct": bursts[0][1].summary()}
    b.say(f"{many} concurrent llama streams: direct {bursts[0][1].wall:.1f} s, gateway "
          f"{bursts[1][1].wall:.1f} s ({bursts[1][1].statuses}), direct {bursts[2][1].wall:.1f} s")


def pair(runs: dict[str, load.Run]) -> dict[str, Any]:
    """The direct run and each server's, with what each adds to the first token and in all."""
    d = runs["direct"].summary()
    out: dict[str, Any] = {"direct": d, "added_ttft_p50_ms": {}, "added_total_p50_ms": {}}
    for name, run in runs.items():
        if name == "direct":
            continue
        s = out[name] = run.summary()
        if d.get("ttft_p50_ms") is not None and s.get("ttft_p50_ms") is not None:
            out["added_ttft_p50_ms"][name] = round(s["ttft_p50_ms"] - d["ttft_p50_ms"], 2)
            out["added_total_p50_ms"][name] = round(s["p50_ms"] - d["p50_ms"], 2)
    return out


async def servers(b: Bench) -> dict[str, Any]:
    """uvicorn (as `make run` serves) against granian on the same database, concurrency 10."""
    out: dict[str, Any] = {}
    n = b.size(600, minimum=100)
    for server in ("uvicorn", "granian"):
        gw, base = procs.gateway(b.database_url, server=server, name=f"gateway-{server}")
        try:
            run = await load.load(load.chat_url(base), load.body("bench", user="alice"), n=n,
                                  concurrency=10, headers=load.auth(b.key), proc=gw, warmup=50,
                                  max_seconds=b.cap)
        finally:
            gw.stop()
        out[server] = run.summary()
        b.say(f"server {server} c=10: {out[server]['rps']} req/s, p50 {out[server]['p50_ms']} "
              f"ms, {out[server].get('cpu_ms_per_request')} ms CPU/req")
    return out
