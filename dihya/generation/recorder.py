"""The end of API calls, written after the answer: a queue and the one thread that drains it.

With DIHYA_RECORDER = "batched" (the default), the API's paths (`pipeline.complete`, the end of
a stream, a client gone) hand a finished run (`settle.Ended`) to this process's recorder and
return at once: no thread hop and no statement on the request's path once the engine has
answered. One thread takes what has come (at most DIHYA_RECORD_BATCH_MAX; after waiting
DIHYA_RECORD_BATCH_MS from the first, 0 by default: what ends during a write makes the next
batch, so batches grow with the load) and hands it to the one writer, `settle.write`, which
writes it in ONE transaction exactly as a run written at once is written (fence, attempts,
gates) — the recorder only decides when.

The queue is written when the server shuts down (ASGI lifespan, `dihya.asgi`: uvicorn after
SIGTERM or SIGINT) and at exit (atexit, for servers without lifespan); only a process killed
outright loses its queue, to the reaper (docs/benchmarks-notes.md, "Durability of batched
recording": the row written at admission is the intent).

This module must never run on a request's thread beyond `submit`, and never call an engine.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from django.conf import settings
from django.db import connection

from dihya.generation import hops
from dihya.generation.settle import Ended, write

log = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 10.0  # how long a normal exit waits for the last batch


def batched() -> bool:
    return settings.DIHYA_RECORDER == "batched"


class Recorder:
    """A queue and the one thread that drains it. `submit` is all a request does."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.queue: list[Ended] = []
        self.submitted = 0  # runs handed over, ever
        self.settled = 0    # runs written, overtaken, or given up on (logged)
        self.flush_to = 0   # `flush` waits for this many: no batch window until then
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.pid = os.getpid()

    def submit(self, ended: Ended) -> None:
        with self.cond:
            if self.thread is None or not self.thread.is_alive():
                self._start()
            self.queue.append(ended)
            self.submitted += 1
            if len(self.queue) == 1 or len(self.queue) >= settings.DIHYA_RECORD_BATCH_MAX:
                self.cond.notify()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every run handed over so far is written (tests, shutdown). True if so."""
        deadline = time.monotonic() + timeout
        with self.cond:
            target = self.flush_to = max(self.flush_to, self.submitted)
            self.cond.notify_all()
            while self.settled < target:
                left = deadline - time.monotonic()
                if left <= 0 or self.thread is None or not self.thread.is_alive():
                    return self.settled >= target
                self.cond.wait(min(left, 0.5))
        return True

    def close(self, timeout: float = SHUTDOWN_SECONDS) -> None:
        """Write what is queued and stop the thread (atexit). What is left after `timeout` is
        logged: the reaper will close those rows."""
        with self.cond:
            if self.thread is None:
                return
            self.stopping = True
            self.cond.notify_all()
        self.thread.join(timeout)
        with self.cond:
            if self.queue:
                log.error("recorder: %d generations not written at exit (the reaper will close "
                          "them as abandoned): %s", len(self.queue),
                          ", ".join(str(e.admission.generation.pk) for e in self.queue))

    def _start(self) -> None:
        if self.thread is None:
            atexit.register(self.close)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="dihya-recorder", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.queue and not self.stopping:
                    self.cond.wait(1.0)  # a timeout: a signal may never wake a bare wait
                if not self.queue:
                    break
                window_ends = time.monotonic() + settings.DIHYA_RECORD_BATCH_MS / 1000
                while (len(self.queue) < settings.DIHYA_RECORD_BATCH_MAX and not self.stopping
                       and self.flush_to <= self.settled
                       and (left := window_ends - time.monotonic()) > 0):
                    self.cond.wait(left)
                limit = settings.DIHYA_RECORD_BATCH_MAX
                batch, self.queue = self.queue[:limit], self.queue[limit:]
            try:
                write(batch)
                hops.tidy()  # the connection hygiene of a request's end (dihya.generation.hops)
            finally:
                with self.cond:
                    self.settled += len(batch)
                    self.cond.notify_all()
        connection.close()

    def _forked(self) -> None:
        """In a forked child: the parent's queue and thread are not ours."""
        self.__init__()  # type: ignore[misc]


recorder = Recorder()
os.register_at_fork(after_in_child=recorder._forked)


def submit(ended: Ended) -> None:
    recorder.submit(ended)


def flush(timeout: float = 30.0) -> bool:
    return recorder.flush(timeout)
