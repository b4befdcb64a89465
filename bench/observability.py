"""`python -m bench.observability`: what metrics, traces and the overhead timer cost per call.

A micro-benchmark of the code observability adds to a generation, without the database or an
engine: the gate's `recorded` hook (metrics, tracing off or on, the log line muted) on a
generation with two attempts, and the overhead middleware's own work (a context variable, a
header, one histogram sample). Tracing on is measured with the SDK and a batch processor over
an exporter that drops spans: the cost of building them, not of the network. The Django,
httpx and psycopg instrumentations come on top of that (see docs/observability.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import time
import timeit
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dihya.settings")
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="dihya-bench-"))

import django

django.setup()

from django.utils import timezone  # noqa: E402

from dihya.gateway.models import ApiClient, Generation  # noqa: E402
from dihya.generation.admission import Admission, Caller  # noqa: E402
from dihya.generation.gates import observability as gate  # noqa: E402
from dihya.observability import metrics as counters  # noqa: E402
from dihya.observability import timing, tracing  # noqa: E402
from fallbacks.runner import AttemptRecord  # noqa: E402
from fallbacks.spec import ChatRequest, EngineSpec, Message, RouteSpec, Usage  # noqa: E402

N = 20_000


def admission() -> Admission:
    engines = (EngineSpec(1, "primary", "openai", "http://a/v1", "big"),
               EngineSpec(2, "backup", "openai", "http://b/v1", "small"))
    now = timezone.now()
    g = Generation(id=uuid.uuid4(), source="chat", client=ApiClient(id=1, name="app"),
                   route_name="default", status="succeeded", started=now - dt.timedelta(
                       seconds=1), finished=now, engine_name="backup", prompt_tokens=7,
                   completion_tokens=5)
    a = Admission(g, RouteSpec(id=1, name="default", strategy="ordered", max_tokens=64,
                               engines=engines),
                  ChatRequest(messages=(Message("user", "hello"),), max_tokens=64),
                  Caller(client=g.client, source="chat"))
    a.attempts = [AttemptRecord(1, "primary", 0, "connect_error", 2.0),
                  AttemptRecord(2, "backup", 1, "ok", 800.0)]
    return a


def per_call_us(fn, n: int = N) -> float:
    return min(timeit.repeat(fn, number=n, repeat=3)) / n * 1e6


def middleware_work() -> None:
    call = timing.Call()
    token = timing.current.set(call)
    timing.admitted(sample)
    timing.current.reset(token)
    headers: dict[str, str] = {}
    spent = call.overhead()
    headers["X-Dihya-Overhead-Ms"] = f"{spent * 1000:.2f}"
    counters.overhead(spent)


sample = admission()
usage = Usage(7, 5)


def main() -> None:
    logging.getLogger("dihya.generations").disabled = True  # the pipeline logged before too
    gate._prices = (float("inf"), {})  # the price cache is warm in a running process
    off = per_call_us(lambda: gate.recorded(sample, usage))
    mw = per_call_us(middleware_work)
    print(f"recorded(): metrics, tracing off   {off:7.1f} µs per generation")
    print(f"overhead middleware's own work     {mw:7.1f} µs per call")
    print(f"together                           {off + mw:7.1f} µs per call")
    counters.flush()
    for _ in range(N):
        gate.recorded(sample, usage)
        middleware_work()
    started = time.perf_counter()
    counters.flush()
    written = (time.perf_counter() - started) / N * 1e6
    print(f"the flusher's writes, off the path  {written:7.1f} µs per call (CPU, batched)")

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=N * 4))
    tracing.use(provider)
    from opentelemetry import trace  # a live call: its request's span is the parent

    request_span = trace.NonRecordingSpan(trace.SpanContext(
        0x1F, 0x2F, is_remote=True, trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED)))
    sample.trace_parent = trace.set_span_in_context(request_span)
    sample.generation.trace_id = trace.format_trace_id(0x1F)
    on = per_call_us(lambda: gate.recorded(sample, usage), n=N // 4)
    tracing.use(None)
    provider.shutdown()
    print(f"recorded(): metrics, tracing on    {on:7.1f} µs per generation (3 spans)")


if __name__ == "__main__":
    main()
