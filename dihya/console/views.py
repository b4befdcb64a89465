"""The console's own admin views: the "Test engine" / "Test route" buttons and live progress.

Mounted by `dihya.console.admin_site` behind `admin_view` (staff login), and each checks the model
permission the matching admin page would: testing an engine needs the right to change it,
watching a generation needs the right to view generations. A denied request is a 403 whether
or not the button was shown.
"""

from __future__ import annotations

from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from dihya.console import live as console
from dihya.gateway.disclosure import sees_raw_content
from dihya.gateway.models import Generation
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
    return JsonResponse(console.progress(
        generation, raw=sees_raw_content(request.user, generation)))


@require_GET
def statuses(request: HttpRequest) -> JsonResponse:
    _require(request, "gateway.view_generation")
    return JsonResponse({"statuses": console.statuses(request.GET.getlist("id"))})
