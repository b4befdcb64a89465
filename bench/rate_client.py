"""The client of the sustainable-rate measure: `python -m bench.rate_client URL --rate R …`.

Open loop: the i-th call is due at t0 + i / R, whether or not the earlier ones have been
answered (a closed loop of N workers, as locust's users, slows down with the server and so
never shows the queue that arrivals at a fixed rate build up). Each call takes an idle
keep-alive connection or opens one, writes one non-streamed request and reads its answer
(content-length or chunked). Its latency runs from when it started to its last byte.

A call is a *dropped arrival* when it started more than `--late-ms` after it was due (this
client fell behind its schedule) or got no answer within `--timeout`; an *error* is any other
answer than a 200 carrying `--expect`, or a connection that failed. A step that can no longer
pass stops early, so that an overloaded server is not buried under a backlog the next step
would pay for: at the first drop or error, or once more than 5 % of the planned calls are
over `--budget-ms` (then the p95 of the whole step would be too).

Raw asyncio in a process of its own, so that its CPU does not share an interpreter with the
harness. Prints `go` when the first call is due, then one JSON object: what it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.load import pct

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Refused(Exception):
    """An answer that is not the expected one (status, then what was wrong)."""


@dataclass
class Tally:
    planned: int
    budget_ms: float
    started: int = 0
    latencies: list[float] = field(default_factory=list)  # ms, right answers
    statuses: Counter = field(default_factory=Counter)
    late: int = 0
    max_late_ms: float = 0.0
    no_answer: int = 0
    over_budget: int = 0
    stopped: str = ""
    in_flight: dict[int, float] = field(default_factory=dict)

    def errors(self) -> int:
        return sum(v for k, v in self.statuses.items() if k != "200")

    def check(self, now: float) -> None:
        """Stop the step once it cannot pass any more (the first reason is kept)."""
        if self.stopped:
            return
        if self.late:
            self.stopped = "dropped: started late"
        elif self.no_answer:
            self.stopped = "dropped: no answer"
        elif self.errors():
            self.stopped = "errors"
        elif self.over_budget + self.waiting_over(now) > 0.05 * self.planned + 1:
            self.stopped = "p95 over budget"

    def waiting_over(self, now: float) -> int:
        """Calls in flight for longer than the budget: the oldest first (the dict keeps the
        order they started in), so this costs one look past those."""
        n = 0
        for t in self.in_flight.values():
            if (now - t) * 1000 <= self.budget_ms:
                break
            n += 1
        return n


class Pool:
    """Keep-alive connections to one server, the most recently used first."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[Conn] = []
        self.opened = 0

    async def get(self) -> tuple[Conn, bool]:
        if self.idle:
            return self.idle.pop(), True
        self.opened += 1
        return await asyncio.open_connection(self.host, self.port, limit=2**20), False

    def put(self, conn: Conn) -> None:
        self.idle.append(conn)

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the connection may be used again) of one HTTP/1.1 answer."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    if headers.get("transfer-encoding") == "chunked":
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size + 2))
        await reader.readuntil(b"\r\n")  # the empty trailer
        body = b"".join(p[:-2] for p in parts)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection") != "close"


async def exchange(pool: Pool, request: bytes) -> tuple[int, bytes]:
    """One call on a pooled connection; a reused one the server had closed is replaced once."""
    for attempt in (1, 2):
        (reader, writer), reused = await pool.get()
        try:
            writer.write(request)
            status, body, keep = await read_answer(reader)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            writer.close()
            if reused and attempt == 1 and (not isinstance(exc, asyncio.IncompleteReadError)
                                            or not exc.partial):
                continue
            raise
        except BaseException:  # a timeout or a cancel mid-answer: the connection is spoiled
            writer.close()
            raise
        if keep:
            pool.put((reader, writer))
        else:
            writer.close()
        return status, body
    raise AssertionError("unreachable")


async def call(i: int, due: float, pool: Pool, request: bytes, args: argparse.Namespace,
               tally: Tally) -> None:
    started = time.perf_counter()
    late_ms = (started - due) * 1000
    tally.max_late_ms = max(tally.max_late_ms, late_ms)
    if late_ms > args.late_ms:
        tally.late += 1
    tally.started += 1
    tally.in_flight[i] = started
    try:
        async with asyncio.timeout(args.timeout):
            status, body = await exchange(pool, request)
        if status != 200:
            raise Refused(str(status))
        if args.expect.encode() not in body:
            raise Refused("200 without the reply")
    except TimeoutError:
        tally.no_answer += 1
    except Refused as exc:
        tally.statuses[str(exc)] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
        tally.statuses[type(exc).__name__] += 1
    else:
        tally.statuses["200"] += 1
        took = (time.perf_counter() - started) * 1000
        tally.latencies.append(took)
        tally.over_budget += took > tally.budget_ms
    finally:
        tally.in_flight.pop(i, None)
    tally.check(time.perf_counter())


async def run(args: argparse.Namespace) -> dict[str, Any]:
    parts = urlsplit(args.url)
    payload = args.body.encode()
    head = [f"POST {parts.path} HTTP/1.1", f"host: {parts.netloc}",
            "content-type: application/json", f"content-length: {len(payload)}",
            "connection: keep-alive", *args.header]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
    planned = max(1, round(args.rate * args.duration))
    tally = Tally(planned=planned, budget_ms=args.budget_ms)
    pool = Pool(parts.hostname or "127.0.0.1", parts.port or 80)
    tasks: set[asyncio.Task] = set()
    print("go", flush=True)
    t0 = time.perf_counter()
    for i in range(planned):
        due = t0 + i / args.rate
        if (wait := due - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        tally.check(time.perf_counter())
        if tally.stopped:
            break
        task = asyncio.create_task(call(i, due, pool, request, args, tally))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    scheduled_end = time.perf_counter()
    abandoned = 0
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=args.grace)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
        abandoned = len(pending)
        if abandoned and not tally.stopped:
            tally.no_answer += abandoned
            tally.stopped = "dropped: no answer"
    pool.close()
    wall = time.perf_counter() - t0
    return {"rate": args.rate, "planned": planned, "started": tally.started,
            "ok": tally.statuses.get("200", 0), "statuses": dict(tally.statuses),
            "errors": tally.errors(), "late": tally.late,
            "max_late_ms": round(tally.max_late_ms, 2), "no_answer": tally.no_answer,
            "abandoned": abandoned, "stopped": tally.stopped or None,
            "connections": pool.opened, "schedule_s": round(scheduled_end - t0, 3),
            "wall_s": round(wall, 3), "p50_ms": pct(tally.latencies, 50),
            "p95_ms": pct(tally.latencies, 95), "p99_ms": pct(tally.latencies, 99),
            "max_ms": round(max(tally.latencies), 2) if tally.latencies else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--rate", type=float, required=True, help="calls per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds of arrivals")
    parser.add_argument("--body", required=True, help="the JSON request")
    parser.add_argument("--header", action="append", default=[], help="'name: value'")
    parser.add_argument("--expect", required=True, help="text every right answer carries")
    parser.add_argument("--late-ms", type=float, default=50.0,
                        help="a call started later than this after it was due is dropped")
    parser.add_argument("--budget-ms", type=float, default=float("inf"),
                        help="stop once over 5%% of the planned calls take longer")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per call")
    parser.add_argument("--grace", type=float, default=5.0,
                        help="seconds to wait for answers after the last arrival")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # an overloaded server holds one connection per call in flight
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    json.dump(asyncio.run(run(args)), sys.stdout)


if __name__ == "__main__":
    main()
