from __future__ import annotations

from django.apps import AppConfig


class FallbacksConfig(AppConfig):
    name = "fallbacks"

    def ready(self) -> None:
        # The catalog listens for configuration changes to forget its route snapshots: in
        # every process, including a `manage.py` command that edits routes and serves none.
        from fallbacks import catalog  # noqa: F401
