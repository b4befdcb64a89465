"""Dihya's admin site: Django's own, with the dashboard as its home page.

Installed through `dihya.console.apps.DihyaAdminConfig` (Django's documented way to replace the
default site), so every app's `admin.site.register` lands here unchanged.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from dihya.console import alerts, dashboard, sections
from dihya.console import views as console_views


class DihyaAdminSite(admin.AdminSite):
    site_header = _("Dihya")
    site_title = _("Dihya console")
    index_title = _("Dashboard")
    site_url = "/api/v1/docs"  # "View site": the API's reference, what clients are built on

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list:
        """The home page and the sidebar by task (dihya.console.sections); an app's own page
        (/admin/<app>/) as Django lists it."""
        app_list = super().get_app_list(request, app_label)
        if app_label:
            return app_list
        extra = {}
        if request.user.has_perm("gateway.view_generation"):
            extra["usage"] = [{"name": _("Usage by client, route and engine"),
                               "object_name": "usage", "admin_url": reverse("admin:usage"),
                               "add_url": None, "view_only": True, "perms": {"view": True}}]
        return sections.by_task(app_list, extra)

    def usage(self, request: HttpRequest) -> HttpResponse:
        return console_views.usage(request, self.each_context(request))

    def get_urls(self):
        return [
            path("dashboard.json", self.admin_view(self.dashboard_json), name="dashboard-json"),
            path("console/engines/<int:pk>/test/", self.admin_view(console_views.test_engine),
                 name="engine-test"),
            path("console/engines/connection/", self.admin_view(console_views.check_connection),
                 name="engine-connection"),
            path("usage/", self.admin_view(self.usage), name="usage"),
            path("console/routes/<int:pk>/test/", self.admin_view(console_views.test_route),
                 name="route-test"),
            path("console/generations/<uuid:pk>.json", self.admin_view(console_views.progress),
                 name="generation-progress"),
            path("console/generations/statuses.json",
                 self.admin_view(console_views.statuses), name="generation-statuses"),
            path("record-of-processing/",
                 self.admin_view(console_views.record_of_processing),
                 name="record-of-processing"),
            *super().get_urls(),
        ]

    def index(self, request: HttpRequest, extra_context=None) -> TemplateResponse:
        period = request.GET.get("period", "hour")
        if period not in dashboard.PERIODS:
            period = "hour"
        context = {
            "period": period,
            "periods": list(dashboard.PERIODS),
            "totals": dashboard.totals(period),
            "engine_figures": dashboard.engines(period),
            "recent_failures": dashboard.recent_failures(),
            "engine_states": dashboard.engine_states(),
            "quota_users": dashboard.top_quota_users(),
            "open_alerts": alerts.described(dashboard.open_alerts()),
            **(extra_context or {}),
        }
        return super().index(request, context)

    def dashboard_json(self, request: HttpRequest) -> JsonResponse:
        period = request.GET.get("period", "hour")
        if period not in dashboard.PERIODS:
            return JsonResponse({"error": {"code": "invalid_request", "param": "period",
                                           "message": "period is hour, day or week"}},
                                status=400)
        return JsonResponse({
            "period": period,
            "totals": dashboard.totals(period),
            "series": dashboard.series(period),
            "engines": [vars(e) | {"success_rate": e.success_rate}
                        for e in dashboard.engines(period)],
        })
