"""OpenTelemetry traces: a span per generation, a child span per engine attempt.

Off by default; on when OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT) is set, exporting
by OTLP/HTTP in a background thread (BatchSpanProcessor), with the Django, httpx and psycopg
instrumentations. Spans are built when the generation is recorded, from what the pipeline
already measured (the attempts' latencies and end times): nothing is timed twice and no span
is held open across the pipeline's thread hops. A live call's generation span is a child of
the API request's span; a job's is the root of the worker's own trace. Attributes follow
OpenTelemetry's GenAI semantic conventions where they apply (gen_ai.*), Dihya's own under
dihya.*.

Spans must never carry an end user, a key, or prompt or completion text — unless
DIHYA_AUDIT_CONTENT is on, and then only redacted (audit.redaction). The Django
instrumentation's request spans would carry the full URL: a consent link's token
(`/privacy/link/<token>/`, a bearer credential for days) and people's ids (`?user=`,
`/api/v1/people/<user>/…`). Its hooks (`scrub`) put the route template in their place and drop
the query string.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest
from opentelemetry import context, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from audit.redaction import redact, redact_data
from dihya.observability.routes import route_of
from fallbacks.spec import ChatRequest

if TYPE_CHECKING:
    import datetime as dt

    from opentelemetry.sdk.trace import TracerProvider

    from dihya.generation.admission import Admission
    from fallbacks.runner import AttemptRecord
    from fallbacks.spec import Usage

_tracer: trace.Tracer | None = None


def setup() -> None:
    """Install the OTLP exporter and the instrumentations, if tracing is asked for."""
    if not settings.DIHYA_TRACING or _tracer is not None:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", "dihya")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    use(provider)
    instrument()


def use(provider: TracerProvider | None) -> None:
    """Trace generations with `provider` (None: stop). setup() calls it; tests too."""
    global _tracer
    _tracer = provider.get_tracer("dihya") if provider is not None else None


def enabled() -> bool:
    return _tracer is not None


def instrument() -> None:
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    DjangoInstrumentor().instrument(  # puts its middleware in settings.MIDDLEWARE, unless
        request_hook=scrub, response_hook=lambda span, request, response: scrub(span, request))
    middleware = DjangoInstrumentor._opentelemetry_middleware  # OTEL_PYTHON_DJANGO_INSTRUMENT=False
    if middleware in settings.MIDDLEWARE and middleware not in settings.DIHYA_API_MIDDLEWARE:
        settings.DIHYA_API_MIDDLEWARE.insert(1, middleware)  # the API lane's chain, after the timer
    HTTPXClientInstrumentor().instrument()
    PsycopgInstrumentor().instrument(skip_dep_check=True)


#: What the instrumentations name a request's URL by (old and new semantic conventions).
URL_ATTRIBUTES = ("http.url", "url.full", "http.target", "url.path", "url.query")


def scrub(span: trace.Span, request: HttpRequest) -> None:
    """Replace the URL attributes the instrumentation set with the route template: no token,
    no id, no query string reaches the trace backend."""
    if not span.is_recording():
        return
    present = getattr(span, "attributes", None) or {}
    route = route_of(request)
    values = {"http.url": route, "url.full": route, "http.target": route, "url.path": route,
              "url.query": ""}
    for name in URL_ATTRIBUTES:
        if name in present:
            span.set_attribute(name, values[name])


def current() -> tuple[context.Context | None, str]:
    """The context a generation admitted now is traced in, and its trace id ("" if none)."""
    if _tracer is None:
        return None, ""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None, ""
    return context.get_current(), trace.format_trace_id(span_context.trace_id)


def generation_started(admission: Admission, parent: context.Context | None) -> str:
    """Open a live call's span at admission, so that its trace id is known before the answer
    leaves (X-Dihya-Trace) even though its end is written after it (the batched recorder).
    Returns the trace id ("" when tracing is off)."""
    if _tracer is None:
        return ""
    g = admission.generation
    span = _tracer.start_span(f"{g.kind} {g.route_name}", context=parent,
                              kind=SpanKind.INTERNAL, start_time=_ns(g.started or g.created))
    admission.trace_span = span
    return trace.format_trace_id(span.get_span_context().trace_id)


def generation_refused(admission: Admission, code: str) -> None:
    """A call refused after its span was opened: the span says so and ends."""
    span, admission.trace_span = admission.trace_span, None
    if span is not None:
        span.set_attribute("error.type", code)
        span.set_status(Status(StatusCode.ERROR, code))
        span.end()


def generation_ended(admission: Admission, attempts: list[AttemptRecord],
                     usage: Usage | None) -> str:
    """Export the generation's span (opened at admission for a live call, else now) and its
    attempts' spans; return the trace id."""
    if _tracer is None:
        return ""
    g = admission.generation
    models = {e.id: e for e in admission.route.engines}
    finished = g.finished or g.created
    span, admission.trace_span = admission.trace_span, None
    if span is None:  # a job run by a worker: its trace is the worker's
        span = _tracer.start_span(
            f"{g.kind} {g.route_name}", context=admission.trace_parent,
            kind=SpanKind.INTERNAL, start_time=_ns(g.started or g.created))
    span.set_attributes(_generation_attributes(admission, usage, models))
    parent = trace.set_span_in_context(span)
    for a in attempts:
        engine = models.get(a.engine_id)
        attempt = _tracer.start_span(
            f"{g.kind} {engine.model if engine else a.engine}", context=parent,
            kind=SpanKind.CLIENT, start_time=int((a.ended - a.latency_ms / 1000) * 1e9),
            attributes=_clean({
                "gen_ai.operation.name": g.kind,  # "chat" | "embeddings", as OTel names them
                "gen_ai.provider.name": engine.provider if engine else None,
                "gen_ai.request.model": engine.model if engine else None,
                "dihya.engine": a.engine, "dihya.attempt.position": a.position,
                "dihya.attempt.outcome": a.outcome, "dihya.attempt.latency_ms": a.latency_ms,
                "http.response.status_code": a.status_code,
                "error.type": a.outcome if a.outcome != "ok" else None}))
        if a.outcome != "ok":
            attempt.set_status(Status(StatusCode.ERROR, a.outcome))
        attempt.end(end_time=int(a.ended * 1e9))
    if g.status != g.Status.SUCCEEDED:
        span.set_status(Status(StatusCode.ERROR, g.error_code or g.status))
    span.end(end_time=_ns(finished))
    return trace.format_trace_id(span.get_span_context().trace_id)


def _generation_attributes(admission: Admission, usage: Usage | None,
                           models: dict[int, Any]) -> dict[str, Any]:
    g, request = admission.generation, admission.request
    chat = request if isinstance(request, ChatRequest) else None
    engine = models.get(g.engine_id) if g.engine_id else None
    attributes = {
        "gen_ai.operation.name": g.kind,
        "gen_ai.request.model": g.route_name,
        "gen_ai.request.max_tokens": chat.max_tokens if chat else None,
        "gen_ai.request.temperature": chat.temperature if chat else None,
        "gen_ai.request.top_p": chat.top_p if chat else None,
        "gen_ai.response.id": str(g.pk),
        "gen_ai.response.model": engine.model if engine else None,
        "gen_ai.response.finish_reasons": [g.finish_reason] if g.finish_reason else None,
        "gen_ai.usage.input_tokens": usage.prompt_tokens if usage else None,
        "gen_ai.usage.output_tokens": usage.completion_tokens if usage else None,
        "dihya.generation.id": str(g.pk),
        "dihya.route": g.route_name,
        "dihya.client": admission.caller.client.name if admission.caller.client else None,
        "dihya.source": g.source,
        "dihya.status": g.status,
        "dihya.engine": g.engine_name or None,
        "dihya.attempts": len(admission.attempts or ()),
        "error.type": g.error_code or None,
    }
    if settings.DIHYA_AUDIT_CONTENT:  # the operator asked for content: redacted, never raw
        if isinstance(request, ChatRequest):
            messages = [{"role": m.role, "content": m.content} for m in request.messages]
        else:  # embeddings: the texts embedded (token arrays say nothing to a reader)
            messages = [{"role": "user", "content": i} for i in request.inputs
                        if isinstance(i, str)]
        attributes["gen_ai.input.messages"] = json.dumps(redact_data(messages))
        if g.result:
            attributes["gen_ai.output.messages"] = json.dumps(
                [{"role": "assistant", "content": redact(g.result)}])
    return _clean(attributes)


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}


def _ns(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1e9)
