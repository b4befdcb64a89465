"""The console's additions to other apps' admin pages, where those apps may not look up names.

Quota alerts (quotas.admin) carry pseudonymous subjects: the console's list says who they are
(dihya.console.subjects) and what happened in local time (dihya.console.alerts).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from dihya.console import alerts, subjects
from quotas.admin import AlertAdmin
from quotas.models import Alert


class NamedAlertAdmin(AlertAdmin):
    list_display = ("created", "kind", "who", "what", "delivered", "acknowledged")
    readonly_fields = ("who", "what", *AlertAdmin.readonly_fields)  # type: ignore[assignment]

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # One lookup for the page's subjects, not one per row.
        page = {a.subject for a in changelist.result_list}
        named = subjects.names(page)
        self._labels = {s: subjects.label(s, named) for s in page}
        return changelist

    def _names(self, alert: Alert) -> dict[str, str]:
        labels = getattr(self, "_labels", {})
        if alert.subject in labels:
            return labels
        return subjects.names([alert.subject])

    @admin.display(description="who", ordering="subject")
    def who(self, alert: Alert) -> str:
        return subjects.label(alert.subject, self._names(alert))

    @admin.display(description="what")
    def what(self, alert: Alert) -> str:
        return alerts.describe(alert, self._names(alert))


admin.site.unregister(Alert)
admin.site.register(Alert, NamedAlertAdmin)
