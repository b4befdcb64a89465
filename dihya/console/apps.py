"""The console: the operator commands (`config`, `demo`, `generate`, `create_api_key`) and the
configuration recorder. Django's admin with our site is installed by `admin_apps`."""

from __future__ import annotations

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "dihya.console"
    label = "console"
    verbose_name = "Console"

    def ready(self) -> None:
        # Every configuration change is an audit event, whoever makes it (admin, commands,
        # a shell): the console is installed in every process that can make one.
        from dihya.config import recorder

        recorder.connect()
