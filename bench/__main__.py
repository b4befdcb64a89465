"""`make bench` / `python -m bench [--quick] [--only overhead,quotas [--merge]]`: measure it.

Starts its own fake upstream, llama.cpp engine, gateways, the bare relay (bench/relay/), the
LiteLLM proxy when `make bench-peers` installed it (var/peers/litellm), workers and scratch
databases (var/bench/, PostgreSQL dihya_bench and Redis db 14 when reachable), all on loopback,
runs the sections of issues 9, 18, 27 and 28 and writes docs/benchmarks.json and
docs/benchmarks.md. `--only` runs some sections and keeps the other sections' figures of the
last run (benchmarks.json), so one section can be measured alone (`make bench BENCH=streams`,
`make bench-batches`); each such section says which run it comes from.
Every loop is bounded in count and in time; a section that fails is reported as failed and the
run goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import traceback
from pathlib import Path
from typing import Any

from bench import (
    batches,
    failover,
    jobs,
    load,
    masking,
    overhead,
    peers,
    procs,
    quotas,
    rate,
    report,
    scale,
    strategies,
    streams,
)
from bench.context import Bench

SECTIONS = {
    "overhead": overhead.overhead,
    "servers": overhead.servers,
    "streaming": overhead.streaming,
    "streams": streams.streams,
    "rate": rate.rate,
    "failover": failover.failover,
    "quotas": quotas.quotas,
    "jobs": jobs.jobs,
    "footprint": scale.footprint,
    "scaleout": scale.scaleout,
    "strategies": strategies.strategies,
    "masking": masking.masking_cost,
    "batches": batches.batches,
}
DOCS = Path(__file__).resolve().parent.parent / "docs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: 10%% of the sizes")
    parser.add_argument("--scale", type=float, default=None, help="multiply every request count")
    parser.add_argument("--only", default="", help="comma-separated sections: " + ",".join(
        SECTIONS))
    parser.add_argument("--cap", type=float, default=60.0,
                        help="seconds any one measured loop may take")
    parser.add_argument("--no-llama", action="store_true", help="skip the real engine")
    peer_flags = parser.add_mutually_exclusive_group()
    peer_flags.add_argument("--peers", action="store_true",
                      help="compare with the LiteLLM proxy (fails without make bench-peers)")
    peer_flags.add_argument("--no-peers", action="store_true",
                      help="leave the peer out even when var/peers/litellm has it")
    parser.add_argument("--out", default=str(DOCS), help="where benchmarks.md/.json go")
    parser.add_argument("--merge", action="store_true",
                        help="the same as --only alone: keep the other sections of the "
                        "existing benchmarks.json")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite benchmarks.md from benchmarks.json (after editing "
                        "docs/benchmarks-notes.md)")
    args = parser.parse_args()
    if args.render:
        out = Path(args.out)
        results = json.loads((out / "benchmarks.json").read_text())
        (out / "benchmarks.md").write_text(report.markdown(results))
        return
    scale_ = args.scale if args.scale is not None else (0.1 if args.quick else 1.0)
    b = Bench(scale=scale_, cap=20.0 if args.quick else args.cap, quick=args.quick,
              no_llama=args.no_llama)
    chosen = [s for s in (args.only.split(",") if args.only else SECTIONS) if s]
    peer = None if args.no_peers else peers.available()
    if args.peers and peer is None:
        raise SystemExit("--peers: no usable LiteLLM in var/peers/litellm; run make bench-peers")
    b.peer_note = ("left out (--no-peers)" if args.no_peers else
                   "not installed: run make bench-peers" if peer is None else
                   peers.describe(peer))
    results = asyncio.run(run(b, chosen, with_llama=not args.no_llama and not args.quick,
                              with_peer=peer is not None))
    meta = report.machine(b, time.monotonic() - b.started, quick=args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    previous = out / "benchmarks.json"
    if (args.only or args.merge) and previous.exists():
        # Some sections alone: the others keep the last run's figures, and these say which
        # run they come from.
        kept = json.loads(previous.read_text())
        kept.setdefault("meta", meta).setdefault("merged", {}).update(
            {key: {**meta, "sections": chosen} for key in chosen})
        for name in chosen:
            if isinstance(results.get(name), dict):
                results[name]["run"] = meta
        results = {**kept, **results}
    else:
        results["meta"] = meta
    (out / "benchmarks.json").write_text(load.dumps(results) + "\n")
    (out / "benchmarks.md").write_text(report.markdown(results))
    b.say(f"wrote {out / 'benchmarks.md'} and benchmarks.json")


async def run(b: Bench, chosen: list[str], with_llama: bool,
              with_peer: bool = False) -> dict[str, Any]:
    results: dict[str, Any] = {}
    up, b.upstream = procs.upstream()
    b.upstream_proc = up
    engine = procs.llama() if with_llama and "streaming" in chosen else None
    if engine is not None:
        b.llama = engine[1]
    b.database_url = procs.fresh_sqlite("main")
    b.seeded = procs.seed(b.database_url, b.upstream, llama=b.llama)
    b.key = b.seeded["key"]
    b.gateway_proc, b.gateway = procs.gateway(b.database_url)
    b.relay_proc, b.relay = procs.relay(b.upstream + "/ok/v1")
    if with_peer and {"overhead", "streaming", "streams", "rate"} & set(chosen):
        b.peer_proc, b.peer = peers.litellm_proxy(b.upstream, llama=b.llama)
    b.say(f"gateway {b.gateway} (uvicorn, SQLite), relay {b.relay}, upstream {b.upstream}, "
          f"llama {b.llama or 'not started'}, LiteLLM {b.peer or b.peer_note}")
    try:
        for name in chosen:
            t0 = time.monotonic()
            try:
                results[name] = await SECTIONS[name](b)
            except Exception as exc:
                traceback.print_exc()
                results[name] = {"failed": f"{type(exc).__name__}: {exc}"[:2000]}
            results[name]["seconds"] = round(time.monotonic() - t0, 1)
            if name == "failover" and b.gateway_proc is not None:
                results.setdefault("footprint_web", {"web_rss_mb": b.gateway_proc.rss_mb()})
    finally:
        for p in (b.gateway_proc, b.relay_proc, b.peer_proc, up,
                  engine[0] if engine else None):
            if p is not None:
                p.stop()
    return results


if __name__ == "__main__":
    main()


