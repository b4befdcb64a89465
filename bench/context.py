"""What every section of a run shares: sizes, time caps, the base processes and a logger."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

from bench.procs import Proc


@dataclass
class Bench:
    scale: float = 1.0            # multiplies every request count (--quick: 0.1)
    cap: float = 60.0             # seconds any one measured loop may take
    quick: bool = False           # --quick: the smallest useful version of each section
    no_llama: bool = False        # --no-llama: the real engine is not started
    server: str = "uvicorn"
    database_url: str = ""
    upstream: str = ""
    upstream_proc: Proc | None = None
    gateway: str = ""
    gateway_proc: Proc | None = None
    llama: str = ""
    relay: str = ""               # the bare Django + ninja + httpx relay on the fake upstream
    relay_proc: Proc | None = None
    peer: str = ""                # the LiteLLM proxy, when `make bench-peers` installed it
    peer_proc: Proc | None = None
    peer_note: str = ""           # why there is no peer, or what its install skipped
    key: str = ""
    seeded: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def size(self, n: int, minimum: int = 20) -> int:
        return max(minimum, int(n * self.scale))

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", file=sys.stderr, flush=True)
