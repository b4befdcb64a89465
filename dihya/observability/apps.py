from __future__ import annotations

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "dihya.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from django_q.signals import post_execute_in_worker

        from dihya.observability import metrics, tracing
        from quotas import signals

        tracing.setup()
        signals.alert_raised.connect(metrics.alert_raised,
                                     dispatch_uid="dihya.observability.alert")
        post_execute_in_worker.connect(metrics.task_done,
                                       dispatch_uid="dihya.observability.task_done")
