"""The privacy wiring: people's pages, erasure, retention. Joins `audit` to the other apps."""

from __future__ import annotations

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "dihya.privacy"
    label = "privacy"
    verbose_name = "Privacy"

    def ready(self) -> None:
        from dihya.privacy import erasure, receivers

        erasure.register_builtins()
        receivers.connect()
