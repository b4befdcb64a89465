"""Questions the harness asks the database, from a process of its own (`python -m bench.probe`).

`jobs SINCE N`: wait (bounded) until N generations created after SINCE have finished, then
print their enqueue-to-done latencies. `batch ID`: a batch's lines ended and their pace.
`dashboard N`: fill the scratch database with N
generations and attempts in a few set-based statements, then time the admin dashboard's
queries. Prints JSON. Only ever pointed at a scratch database by `bench.procs`.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime


def jobs(since: str, n: int, timeout: float) -> dict[str, object]:
    from dihya.gateway.models import Generation

    start = datetime.fromisoformat(since)
    rows = Generation.objects.filter(created__gte=start, source=Generation.Source.JOB)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rows.filter(finished__isnull=False).count() >= n:
            break
        time.sleep(0.05)
    done = list(rows.filter(finished__isnull=False).values_list("created", "finished", "status"))
    lat = sorted((f - c).total_seconds() * 1000 for c, f, _ in done)
    return {"done": len(done), "expected": n,
            "succeeded": sum(1 for *_, s in done if s == "succeeded"),
            "latencies_ms": [round(x, 2) for x in lat],
            "span_s": (max(f for _, f, _ in done) - min(c for c, _, _ in done)).total_seconds()
            if done else None}


def batch(batch_id: str) -> dict[str, object]:
    """A batch's lines ended and their pace: from the first line's start to the last's end."""
    from django.db.models import Max, Min

    from dihya.batches.models import BatchLine

    lines = BatchLine.objects.filter(batch_id=batch_id)
    ended = lines.filter(status__in=BatchLine.ENDED)
    span = ended.aggregate(first=Min("started"), last=Max("finished"))
    seconds = ((span["last"] - span["first"]).total_seconds()
               if span["first"] and span["last"] else None)
    count = ended.count()
    return {"ended": count, "succeeded": ended.filter(status="succeeded").count(),
            "span_s": round(seconds, 1) if seconds else None,
            "lines_per_s": round(count / seconds, 1) if seconds else None}


def dashboard(n: int) -> dict[str, object]:
    from django.db import connection

    from dihya.console import dashboard as dash
    from fallbacks.models import Engine

    engines = list(Engine.objects.values_list("id", "name")[:3])
    t0 = time.perf_counter()
    fill(connection, n, engines)
    filled = time.perf_counter() - t0
    timings: dict[str, float] = {}
    for period in dash.PERIODS:
        for name, call in (("totals", lambda p=period: dash.totals(p)),
                           ("series", lambda p=period: dash.series(p)),
                           ("engines", lambda p=period: dash.engines(p))):
            t = time.perf_counter()
            call()
            timings[f"{name}_{period}"] = round((time.perf_counter() - t) * 1000, 1)
    for name, call in (("recent_failures", dash.recent_failures),
                       ("top_quota_users", dash.top_quota_users),
                       ("open_alerts", dash.open_alerts)):
        t = time.perf_counter()
        call()
        timings[name] = round((time.perf_counter() - t) * 1000, 1)
    return {"generations": n, "fill_s": round(filled, 1), "query_ms": timings,
            "admin_index_ms": round(sum(timings.get(k, 0.0) for k in (
                "totals_day", "engines_day", "recent_failures", "top_quota_users",
                "open_alerts")), 1)}


def fill(connection, n: int, engines: list[tuple[int, str]]) -> None:
    """N generations spread over the last 30 days and one attempt each, set-based."""
    (e1, n1), (e2, n2) = engines[0], engines[1]
    pg = connection.vendor == "postgresql"
    with connection.cursor() as c:
        if pg:
            seq = f"SELECT g AS i FROM generate_series(1, {n}) g"
            uid = "md5(i::text)::uuid"
            at = "now() - (i % 2592000) * interval '1 second'"
            js = "'{}'::jsonb"
        else:
            seq = (f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
                   f"WHERE i < {n}) SELECT i FROM s")
            uid = "lower(hex(randomblob(16)))"
            at = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (i % 2592000) || ' seconds')"
            js = "'{}'"
        c.execute(
            "INSERT INTO gateway_generation (id, source, kind, end_user, route_name, status, "
            "stream, request, result, tool_calls, finish_reason, prompt_tokens, "
            "completion_tokens, engine_id, engine_name, error_code, error_message, callback_url, "
            "created, started, finished, deliveries, trace_id) "
            f"SELECT {uid}, 'chat', 'chat', '', 'bench', CASE WHEN i % 20 = 0 THEN 'failed' "
            f"ELSE 'succeeded' END, false, {js}, 'Hello', {js.replace('{}', '[]')}, 'stop', 12, 7, "
            f"CASE WHEN i % 3 = 0 THEN {e2} ELSE {e1} END, "
            f"CASE WHEN i % 3 = 0 THEN '{n2}' ELSE '{n1}' END, '', '', '', {at}, {at}, {at}, 1, '' "
            f"FROM ({seq}) q")
        c.execute(
            "INSERT INTO gateway_attempt (generation_id, engine_id, engine_name, position, "
            "outcome, latency_ms, status_code, detail, created) SELECT id, engine_id, "
            "engine_name, CASE WHEN engine_id = %s THEN 1 ELSE 0 END, CASE WHEN status = "
            "'failed' THEN 'server_error' ELSE 'ok' END, 20 + (prompt_tokens * 3) %% 50, 200, "
            "'', created FROM gateway_generation", [e2])
        c.execute("ANALYZE")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dihya.settings")
    import django

    django.setup()
    what = sys.argv[1]
    if what == "jobs":
        out = jobs(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif what == "batch":
        out = batch(sys.argv[2])
    else:
        out = dashboard(int(sys.argv[2]))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
