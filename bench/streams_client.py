"""The client of the long-streams measure: `python -m bench.streams_client URL --n N …`.

N streamed chat calls, each on a connection of its own (as N users' SDKs hold them), the i-th
started at i * spread / N seconds. While they run, each read is only stamped and kept; once
all have ended, the reads are decoded (chunked transfer, then server-sent events) and each
event is given the time of the read that completed it. So the client's own work cannot delay
what it measures, and two events that came in one read show as a gap of 0: a burst.

Raw asyncio (uvloop when installed), its own process: at 400 streams of 40 chunks in 2 s the
servers send 8,000 chunks a second, and a heavier client would share the cores with them
unevenly. Prints one JSON object: what the client saw (streams whole, gaps between content
chunks, time to the first content chunk, most streams open at once).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.load import pct

END = b"0\r\n\r\n"  # the last chunk of a chunked body


@dataclass
class Seen:
    """One stream as its reads came in."""

    started: float = 0.0
    ended: float = 0.0
    status: int | str = 0
    reads: list[tuple[float, bytes]] = field(default_factory=list)


async def one(url: str, payload: bytes, headers: list[str], delay: float, timeout: float,
              seen: Seen) -> None:
    await asyncio.sleep(delay)
    parts = urlsplit(url)
    seen.started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            head = [f"POST {parts.path} HTTP/1.1", f"host: {parts.netloc}",
                    "content-type: application/json", f"content-length: {len(payload)}",
                    "accept: text/event-stream", "connection: close", *headers]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
            tail = b""
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                seen.reads.append((time.perf_counter(), data))
                tail = (tail + data)[-16:]
                if tail.endswith(END):
                    break
            writer.close()
    except (OSError, TimeoutError) as exc:
        seen.status = type(exc).__name__
    seen.ended = time.perf_counter()


def events(seen: Seen) -> tuple[int | str, list[tuple[float, bytes]]]:
    """The status and the server-sent events of a stream, each with the time of its read."""
    raw = b"".join(data for _, data in seen.reads)
    ends, total = [], 0
    for t, data in seen.reads:
        total += len(data)
        ends.append((total, t))
    head_end = raw.find(b"\r\n\r\n")
    if head_end < 0:
        return seen.status or "no answer", []
    head = raw[:head_end].decode("latin-1").split("\r\n")
    status: int | str = int(head[0].split(" ")[1])
    chunked = any(h.lower().replace(" ", "") == "transfer-encoding:chunked" for h in head[1:])
    body_at = head_end + 4

    def time_at(offset: int) -> float:  # the read that brought the byte at `offset`
        return next(t for end, t in ends if end > offset)

    pieces: list[tuple[float, bytes]] = []
    if chunked:
        pos = body_at
        while (eol := raw.find(b"\r\n", pos)) >= 0:
            size = int(raw[pos:eol].split(b";")[0] or b"0", 16)
            if size == 0:
                break
            data = raw[eol + 2:eol + 2 + size]
            pieces.append((time_at(eol + 1 + size), data))
            pos = eol + 2 + size + 2
    else:
        pieces.append((seen.ended, raw[body_at:]))
    out, buf = [], b""
    for t, data in pieces:
        buf += data.replace(b"\r\n", b"\n")
        while (i := buf.find(b"\n\n")) >= 0:
            out.append((t, buf[:i]))
            buf = buf[i + 2:]
    return status, out


def content(event: bytes) -> str | None:
    """The text a chat.completion.chunk event carries, "" for none, None for `[DONE]`."""
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            data = line[5:].strip()
            if data == b"[DONE]":
                return None
            try:
                choices = json.loads(data).get("choices") or [{}]
            except ValueError:
                return ""
            return (choices[0].get("delta") or {}).get("content") or ""
    return ""


def summary(streams: list[Seen], expect: str, wall: float) -> dict[str, Any]:
    gaps: list[float] = []
    firsts: list[float] = []
    statuses: dict[str, int] = {}
    whole = chunks = 0
    for seen in streams:
        status, evs = events(seen)
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        times, text, done = [], [], False
        for t, event in evs:
            piece = content(event)
            if piece is None:
                done = True
            elif piece:
                times.append(t)
                text.append(piece)
        chunks += len(times)
        if times:
            firsts.append((times[0] - seen.started) * 1000)
            gaps += [(b - a) * 1000 for a, b in itertools.pairwise(times)]
        whole += status == 200 and done and "".join(text) == expect
    marks = sorted([(s.started, 1) for s in streams] + [(s.ended, -1) for s in streams])
    open_now = most_open = 0
    for _, step in marks:
        open_now += step
        most_open = max(most_open, open_now)
    return {"streams": len(streams), "whole": whole, "statuses": statuses,
            "content_chunks": chunks, "most_open": most_open, "wall_s": round(wall, 2),
            "gap_p50_ms": pct(gaps, 50), "gap_p99_ms": pct(gaps, 99),
            "first_p50_ms": pct(firsts, 50), "first_p99_ms": pct(firsts, 99)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    payload = args.body.encode()
    streams = [Seen() for _ in range(args.n)]
    t0 = time.perf_counter()
    await asyncio.gather(*(one(args.url, payload, args.header, i * args.spread / args.n,
                               args.timeout, seen) for i, seen in enumerate(streams)))
    return summary(streams, args.expect, time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--n", type=int, required=True, help="streams")
    parser.add_argument("--spread", type=float, default=2.0, help="seconds to start them over")
    parser.add_argument("--body", required=True, help="the JSON request")
    parser.add_argument("--header", action="append", default=[], help="'name: value'")
    parser.add_argument("--expect", required=True, help="the whole text of a stream")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per stream")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
