"""Django's admin, with Dihya's site (dashboard, live tests) as the default one."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class DihyaAdminConfig(AdminConfig):
    default_site = "dihya.console.admin_site.DihyaAdminSite"

    def ready(self) -> None:
        super().ready()
        from dihya import checks  # noqa: F401  (registers the system checks)
