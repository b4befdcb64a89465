from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GatewayConfig(AppConfig):
    name = "dihya.gateway"
    label = "gateway"
    verbose_name = "Gateway"

    def ready(self) -> None:
        from dihya.gateway import keys, receivers, schedules

        # In every process that can change a key or a client (web, workers, commands), so that
        # every process learns of it (dihya.gateway.keys).
        keys.connect()
        receivers.connect()
        # After django_q's own migrations, which create the Schedule table.
        post_migrate.connect(schedules.create,
                             sender=self.apps.get_app_config("django_q"),  # type: ignore[union-attr]
                             dispatch_uid="dihya.gateway.schedules")
