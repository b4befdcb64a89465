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
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from dihya.console import live as console
from dihya.console import usage as usage_figures
from dihya.gateway.disclosure import sees_raw_content
from dihya.gateway.models import Generation
from dihya.lib import loop
from dihya.privacy import record
from fallbacks import catalog, connection
from fallbacks.models import Engine, Route

#: The engine fields a connection test reads; errors in others (a taken name) do not matter.
CONNECTION_FIELDS = ("provider", "base_url", "model", "api_key_env", "api_key", "clear_api_key",
                     "connect_timeout", "read_timeout", "total_timeout")


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
def check_connection(request: HttpRequest) -> JsonResponse:
    """The engine form's "Test connection": the form's values as posted, saved nowhere.

    An existing engine (`engine` = its id) lends its stored key unless the form replaces or
    clears it, or points it at another host (then, as on saving, the key is not sent there)."""
    from fallbacks.admin import EngineForm  # registers admin pages: not while the site loads

    stored = None
    if request.POST.get("engine", "").isdigit():
        _require(request, "fallbacks.change_engine")
        stored = get_object_or_404(Engine, pk=int(request.POST["engine"]))
    else:
        _require(request, "fallbacks.add_engine")
    form = EngineForm(request.POST, instance=stored)
    form.is_valid()
    errors = {name: [str(e) for e in form.errors[name]] for name in CONNECTION_FIELDS
              if name in form.errors}
    if errors:
        return JsonResponse({"ok": False, "cause": "The form has errors.",
                             "fix": "Correct: " + "; ".join(f"{name.replace('_', ' ')}: "
                                                            f"{' '.join(e)}"
                                                            for name, e in errors.items()),
                             "errors": errors})
    engine: Engine = form.instance
    key = form.cleaned_data.get("api_key")
    if form.cleaned_data.get("clear_api_key"):
        engine.set_api_key("")
    elif key:
        engine.set_api_key(key)
    if stored is not None:
        engine.clear_key_if_moved(Engine.objects.get(pk=stored.pk).base_url, new_key=bool(key))
    spec = catalog.engine_spec(engine)
    result = loop.run(connection.check(spec),
                      timeout=spec.connect_timeout + spec.read_timeout + 5)
    return JsonResponse(result.as_json())


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


@require_GET
def usage(request: HttpRequest, context: dict) -> HttpResponse:
    """Requests, tokens and cost per client, route or engine; `?format=csv` downloads them."""
    _require(request, "gateway.view_generation")
    period = request.GET.get("period", "week")
    by = request.GET.get("by", "client")
    period = period if period in usage_figures.PERIODS else "week"
    by = by if by in usage_figures.GROUPS else "client"
    rows = usage_figures.rows(period, by)
    if request.GET.get("format") == "csv":
        response = HttpResponse(usage_figures.as_csv(period, by, rows),
                                content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y-%m-%d")
        response["Content-Disposition"] = (f'attachment; filename="dihya-usage-{by}-{period}-'
                                           f'{stamp}.csv"')
        return response
    return TemplateResponse(request, "admin/dihya/usage.html", {
        **context, "title": _("Usage by client, route and engine"), "period": period,
        "by": by, "rows": rows,
        "total": usage_figures.total(rows), "periods": list(usage_figures.PERIODS),
        "groups": list(usage_figures.GROUPS),
        "chart": usage_figures.chart(period, by, rows)})


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
