"""The console's own admin views: the "Test engine" / "Test route" buttons and live progress.

Mounted by `dihya.console.admin_site` behind `admin_view` (staff login), and each checks the model
permission the matching admin page would: testing an engine needs the right to change it,
watching a generation needs the right to view generations. A denied request is a 403 whether
or not the button was shown.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from dihya.console import live as console
from dihya.gateway.models import Generation
from dihya.privacy import record
from fallbacks.models import Engine, Route


def _require(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _started(request: HttpRequest, generation: Generation) -> HttpResponse:
    data = console.progress(generation, attempts=[])
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(data, status=202)
    # Without JavaScript: the generation's page follows it live just as well.
    return redirect(data["url"])


@require_POST
def test_engine(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "fallbacks.change_engine")
    engine = get_object_or_404(Engine, pk=pk)
    try:
        generation = console.test_engine(engine)
    except ValueError as exc:
        return JsonResponse({"error": {"code": "invalid_request", "message": str(exc)}},
                            status=400)
    return _started(request, generation)


@require_POST
def test_route(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, "fallbacks.change_route")
    route = get_object_or_404(Route, pk=pk)
    return _started(request, console.test_route(route))


@require_GET
def progress(request: HttpRequest, pk: UUID) -> JsonResponse:
    _require(request, "gateway.view_generation")
    generation = get_object_or_404(Generation, pk=pk)
    return JsonResponse(console.progress(generation))


@require_GET
def statuses(request: HttpRequest) -> JsonResponse:
    _require(request, "gateway.view_generation")
    return JsonResponse({"statuses": console.statuses(request.GET.getlist("id"))})


@require_GET
def record_of_processing(request: HttpRequest) -> HttpResponse:
    """The GDPR Art. 30 record, signed, as HTML (default), JSON or CSV (`?format=`), for a
    period (`?since=YYYY-MM-DD&until=YYYY-MM-DD`): for whoever may read the audit log."""
    _require(request, "audit.view_auditevent")
    fmt = request.GET.get("format", "html")
    try:
        since, until = (_day(request.GET.get(name)) for name in ("since", "until"))
    except ValueError:
        return JsonResponse({"error": {"code": "invalid_request", "param": "since",
                                       "message": "since and until are dates, YYYY-MM-DD"}},
                            status=400)
    if fmt not in ("html", "json", "csv"):
        return JsonResponse({"error": {"code": "invalid_request", "param": "format",
                                       "message": "format is html, json or csv"}}, status=400)
    signed = record.sign(record.build(*record.period(since, until)))
    content_type, text = record.render(signed, fmt)
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    if fmt != "html":
        response["Content-Disposition"] = (f'attachment; filename="record-of-processing-'
                                           f'{signed["record"]["generated"][:10]}.{fmt}"')
    return response


def _day(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
