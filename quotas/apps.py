from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class QuotasConfig(AppConfig):
    name = "quotas"

    def ready(self) -> None:
        # Plans are remembered per process (quotas.plans): an edit here applies at once.
        from quotas import plans
        from quotas.models import Assignment, Limit, Plan

        for model in (Plan, Limit, Assignment):
            post_save.connect(plans.forget, sender=model,
                              dispatch_uid=f"plans-forget-save-{model.__name__}")
            post_delete.connect(plans.forget, sender=model,
                                dispatch_uid=f"plans-forget-delete-{model.__name__}")
