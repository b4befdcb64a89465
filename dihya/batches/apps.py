from __future__ import annotations

from django.apps import AppConfig


class BatchesConfig(AppConfig):
    name = "dihya.batches"
    label = "batches"
    verbose_name = "Batches"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dihya.batches import privacy

        privacy.register()
