"""The privacy wiring: people's pages, erasure, retention. Joins `audit` to the other apps."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate

SCHEDULE = "dihya retention purge"


class PrivacyConfig(AppConfig):
    name = "dihya.privacy"
    label = "privacy"
    verbose_name = "Privacy"

    def ready(self) -> None:
        # Connect the withdrawal receiver and register the built-in erasure plug-ins.
        from dihya.generation.gates import consent as consent_gate  # noqa: F401

        # After django_q's own migrations (this app has no models, so gets no post_migrate).
        post_migrate.connect(schedule_retention,
                             sender=self.apps.get_app_config("django_q"),  # type: ignore[union-attr]
                             dispatch_uid="dihya.privacy.schedule_retention")


def schedule_retention(**kwargs: Any) -> None:
    """The daily purge, created idempotently (a second `schedule(name=…)` would fail)."""
    from django_q.models import Schedule

    Schedule.objects.using(kwargs.get("using") or "default").update_or_create(
        name=SCHEDULE, defaults={"func": "dihya.privacy.tasks.purge_expired",
                                 "schedule_type": Schedule.DAILY, "repeats": -1})
