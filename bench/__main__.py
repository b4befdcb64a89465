"""`make bench` / `python -m bench [--quick] [--only overhead,quotas]`: measure the gateway.

Starts its own fake upstream, llama.cpp engine, gateways, workers and scratch databases
(var/bench/, PostgreSQL dihya_bench and Redis db 14 when reachable), all on loopback, runs the
sections of issue 9 and writes docs/benchmarks.json and docs/benchmarks.md. Every loop is
bounded in count and in time; a section that fails is reported as failed and the run goes on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import traceback
from pathlib import Path
from typing import Any

from bench import failover, jobs, load, overhead, procs, quotas, report, scale, strategies
from bench.context import Bench

SECTIONS = {
    "overhead": overhead.overhead,
    "servers": overhead.servers,
    "streaming": overhead.streaming,
    "failover": failover.failover,
    "quotas": quotas.quotas,
    "jobs": jobs.jobs,
    "footprint": scale.footprint,
    "scaleout": scale.scaleout,
    "strategies": strategies.strategies,
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
    parser.add_argument("--out", default=str(DOCS), help="where benchmarks.md/.json go")
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
    b = Bench(scale=scale_, cap=20.0 if args.quick else args.cap, quick=args.quick)
    chosen = [s for s in (args.only.split(",") if args.only else SECTIONS) if s]
    results = asyncio.run(run(b, chosen, with_llama=not args.no_llama and not args.quick))
    results["meta"] = report.machine(b, time.monotonic() - b.started, quick=args.quick)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(load.dumps(results) + "\n")
    (out / "benchmarks.md").write_text(report.markdown(results))
    b.say(f"wrote {out / 'benchmarks.md'} and benchmarks.json")


async def run(b: Bench, chosen: list[str], with_llama: bool) -> dict[str, Any]:
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
    b.say(f"gateway {b.gateway} (uvicorn, SQLite), upstream {b.upstream}, "
          f"llama {b.llama or 'not started'}")
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
        for p in (b.gateway_proc, up, engine[0] if engine else None):
            if p is not None:
                p.stop()
    return results


if __name__ == "__main__":
    main()


