"""Logs as JSON lines (LOG_FORMAT=json), and the one line each generation ends with.

`JsonLines` writes every record as one JSON object: time, level, logger, message, and the
fields a record carries in `extra={"dihya": {...}}` (generation id, route, engine, outcome,
durations, trace id). `generation_ended` is that line for a generation. Neither may ever write
a prompt, a completion, an end user or a key: the fields are chosen here, not passed through.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dihya.generation.admission import Admission
    from fallbacks.runner import AttemptRecord

log = logging.getLogger("dihya.generations")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "dihya", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def generation_ended(admission: Admission, attempts: list[AttemptRecord], trace_id: str) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    g = admission.generation
    fields = {
        "generation": str(g.pk),
        "route": g.route_name,
        "client": admission.caller.client.name if admission.caller.client else None,
        "source": g.source,
        "status": g.status,
        "engine": g.engine_name or None,
        "outcome": g.error_code or (attempts[-1].outcome if attempts else None),
        "attempts": [{"engine": a.engine, "outcome": a.outcome, "latency_ms": a.latency_ms}
                     for a in attempts],
        "duration_ms": round((g.finished - g.started).total_seconds() * 1000, 1)
        if g.started and g.finished else None,
        "engine_ms": round(sum(a.latency_ms for a in attempts), 1),
        "prompt_tokens": g.prompt_tokens,
        "completion_tokens": g.completion_tokens,
        "trace_id": trace_id or None,
    }
    log.info("generation %s %s route=%s engine=%s attempts=%d", g.pk, g.status, g.route_name,
             g.engine_name or "-", len(attempts), extra={"dihya": fields})
