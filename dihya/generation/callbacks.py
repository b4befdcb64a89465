"""Job callbacks: when a job with a `callback_url` ends, POST its report there, signed.

The body is the same JSON the jobs API answers for GET /api/v1/generations/{id}, plus the
deliverer's `"dihya": {"kind", "client", "url"}`. It leaves through `dihya.lib.outbound` like
every notification: signed `X-Dihya-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>">` with the client's own signing secret, its URL checked against private
addresses (at submission and again at delivery, where the checked address is the one
connected to), no redirect followed, a deadline always set.

The report is handed to the one deliverer (`dihya.gateway.deliveries`), which retries a
failed delivery (network error, timeout, non-2xx, a redirect) with growing delays and keeps
the log the admin reads. This module must never send anything but the report.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from dihya.gateway import deliveries
from dihya.gateway.models import Delivery, Generation, JobVectors
from dihya.generation.errors import Refusal
from dihya.lib import outbound


async def checked_url(url: str) -> str:
    """Refuse at submission what may not or could never be delivered (400 on `callback_url`).

    On the event loop, not in a database hop: the name resolves on `dihya.lib.outbound`'s
    own threads under its deadline, so slow or hanging DNS never holds a database thread."""
    try:
        await outbound.acheck_url(url)
    except outbound.UnsafeURL as exc:
        raise Refusal(400, "invalid_request", f"callback_url refused: {exc}.",
                      param="callback_url") from None
    return url


def epoch(moment: Any) -> int | None:
    return int(moment.timestamp()) if moment else None


def report(g: Generation) -> dict[str, Any]:
    """A job as the jobs API and its callbacks describe it."""
    succeeded = g.status == Generation.Status.SUCCEEDED
    return {
        "id": str(g.pk),
        "object": "generation",
        "status": g.status,
        "model": g.route_name,
        "created": epoch(g.created),
        "started": epoch(g.started),
        "finished": epoch(g.finished),
        "engine": g.engine_name or None,
        "result": g.result if succeeded else None,
        "tool_calls": [{"id": c["id"], "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]}}
                       for c in g.tool_calls] if succeeded and g.tool_calls else None,
        "finish_reason": g.finish_reason or None,
        "usage": {"prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
                  "total_tokens": g.prompt_tokens + g.completion_tokens} if succeeded else None,
        "attempts": [a.as_report() for a in g.attempts.all()],
        "error": ({"code": g.error_code, "message": g.error_message}
                  if g.status in (Generation.Status.FAILED, Generation.Status.CANCELLED)
                  else None),
        "deliveries": g.deliveries,
        **({"embeddings": vectors_of(g) if succeeded else None}
           if g.kind == Generation.Kind.EMBEDDINGS else {}),
    }


def vectors_of(g: Generation) -> list[list[float]] | None:
    found = JobVectors.objects.filter(generation=g).values_list("vectors", flat=True).first()
    return None if found is None else list(found)


def announce(generation_id: UUID | str) -> None:
    """Queue the report of a job that has just ended, in the transaction that ended it (or at
    once in autocommit): it is sent once that commits."""
    g = Generation.objects.select_related("client").get(pk=generation_id)
    if not g.callback_url or not g.is_terminal:
        return
    deliveries.queue(Delivery.Kind.CALLBACK, g.callback_url, report(g), client=g.client,
                     generation_id=g.pk)
