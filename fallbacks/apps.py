from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class FallbacksConfig(AppConfig):
    name = "fallbacks"

    def ready(self) -> None:
        post_migrate.connect(schedule_resilience, sender=self,
                             dispatch_uid="fallbacks.schedule_resilience")


def schedule_resilience(**kwargs: Any) -> None:
    """Health checks and the reaper of stuck jobs, as django-q2 schedules (idempotent)."""
    from dihya.generation import reaper
    from fallbacks import health_checks

    health_checks.schedule(**kwargs)
    reaper.schedule(**kwargs)
