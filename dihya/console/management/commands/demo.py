"""Seed the demo configuration and an admin login. Safe to run again: it changes only what
differs from the demo, and never resets an existing password."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from dihya import config
from dihya.config import recorder as config_audit

DEMO = Path(config.__file__).with_name("demo.yaml")


def demo_document(engine_port: int, embed_port: int = 8082) -> dict:
    document = config.load_yaml(DEMO.read_text(encoding="utf-8"))
    ports = {"llama-local": engine_port, "smollm2-embed": embed_port}
    for engine in document["engines"]:
        if engine["name"] in ports:
            engine["base_url"] = f"http://127.0.0.1:{ports[engine['name']]}/v1"
    return document


class Command(BaseCommand):
    help = ("Seed the demo engines, routes `default` and `embed`, client `demo-app` and an "
            "admin login.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--engine-port", type=int, default=8081,
                            help="Port of the local engine (serve_local_engine --port).")
        parser.add_argument("--embed-port", type=int, default=8082,
                            help="Port of the local embedding engine (serve_local_engine "
                                 "--embeddings --port).")

    def handle(self, *args: object, engine_port: int, embed_port: int = 8082,
               **options: object) -> None:
        try:
            with config_audit.acting_as(f"demo ({config_audit.os_user()})"):
                changes = config.apply(demo_document(engine_port, embed_port))
        except config.ConfigError as exc:
            raise CommandError("the demo configuration was rejected:\n  "
                               + "\n  ".join(exc.problems)) from exc
        for change in changes:
            self.stdout.write(f"demo: {change.action} {change.kind} {change.name}")
        if not changes:
            self.stdout.write("demo: configuration already in place")
        self.ensure_admin()

    def ensure_admin(self) -> None:
        """Like `createsuperuser --noinput` when DJANGO_SUPERUSER_* are set; otherwise an
        `admin` with a random password, printed this once and stored only as its hash."""
        User = get_user_model()
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
        if bool(username) != bool(password):
            raise CommandError("set both DJANGO_SUPERUSER_USERNAME and "
                               "DJANGO_SUPERUSER_PASSWORD, or neither")
        given = bool(username)
        username = username or "admin"
        with transaction.atomic():
            if User._default_manager.filter(**{User.USERNAME_FIELD: username}).exists():
                self.stdout.write(f"admin login: {username!r} exists (new password: "
                                  f"python manage.py changepassword {username})")
                return
            if not given:
                password = secrets.token_urlsafe(12)
            email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
            User._default_manager.create_superuser(username, email, password)
        if given:
            self.stdout.write(f"admin login: created {username!r} from DJANGO_SUPERUSER_*")
        else:
            self.stdout.write(f"admin login: {username} / {password}  (shown once; "
                              f"change it with python manage.py changepassword {username})")
