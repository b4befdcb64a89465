"""The admin console's verbs: test an engine or a route, and report a generation's progress.

A test is a real generation, queued on django-q2 and run by a worker like any job, so it
proves the whole path (pipeline, worker, engine) and leaves the same records. It is admitted
as the admin (no API client, no end user: no consent to ask, no quota to charge) and
recorded with source "admin".

`progress()` is what the console's pages poll: statuses and attempts, never a secret — an
attempt's detail is the provider's error text, which the providers never fill with keys.
This module must not call an engine itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from dihya.gateway.disclosure import redacted_text
from dihya.gateway.models import Attempt, Generation
from dihya.generation import jobs, pipeline
from dihya.generation.requests import ChatBody
from fallbacks import catalog
from fallbacks.models import Engine, Route
from fallbacks.spec import RouteSpec

PROMPT = "Reply with one short friendly sentence: is this engine working?"
MAX_TOKENS = 24


def test_engine(engine: Engine) -> Generation:
    """Queue a test generation on this engine alone (enabled or not)."""
    return _queue(catalog.single_engine_route(engine))


def test_route(route: Route) -> Generation:
    """Queue a test generation on this route, in its current fallback order."""
    spec = catalog.route_spec(route.name)
    assert spec is not None  # the route exists: we hold it
    return _queue(spec)


def _queue(spec: RouteSpec) -> Generation:
    if len(spec.name) > Generation._meta.get_field("route_name").max_length:  # type: ignore[operator]
        raise ValueError(f"the name {spec.name!r} is too long to be tested")
    body = ChatBody(model=spec.name[:64], messages=[{"role": "user", "content": PROMPT}],
                    max_tokens=min(MAX_TOKENS, spec.max_tokens))
    caller = pipeline.Caller(client=None, source=Generation.Source.ADMIN)
    with transaction.atomic():
        admission = pipeline.admit(caller, body, queued=True, route=spec)
        jobs.enqueue(admission.generation)
    return admission.generation


def progress(generation: Generation, attempts: Iterable[Attempt] | None = None, *,
             raw: bool = True) -> dict[str, Any]:
    """A generation as the console's live panels show it; the answer redacted unless `raw`
    (`dihya.gateway.admin.sees_raw_content`)."""
    if attempts is None:
        attempts = generation.attempts.all()
    rows = [a.as_report() for a in attempts]
    return {
        "id": str(generation.pk),
        "url": reverse("admin:gateway_generation_change", args=[generation.pk]),
        "progress": reverse("admin:generation-progress", args=[generation.pk]),
        "route": generation.route_name,
        "status": generation.status,
        "terminal": generation.is_terminal,
        "engine": generation.engine_name,
        "result": (generation.result if raw else redacted_text(generation))[:2000],
        "error_code": generation.error_code,
        "error_message": generation.error_message[:500],
        "latency_ms": None if generation.latency_ms is None else round(generation.latency_ms),
        "tokens": [generation.prompt_tokens, generation.completion_tokens],
        "attempts": rows,
        # What the route's strategy picked and why (the serving attempt's detail).
        "choice": next((r["detail"] for r in rows if r["outcome"] == "ok"), ""),
        "deadline_s": settings.DIHYA_JOB_DEADLINE,
    }


def statuses(ids: Iterable[str]) -> dict[str, str]:
    """Current status of a page's worth of generations, in one query."""
    wanted = [i for i in ids if _is_uuid(i)][:200]
    return {str(pk): status for pk, status in
            Generation.objects.filter(pk__in=wanted).values_list("pk", "status")}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
