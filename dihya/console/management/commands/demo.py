"""Seed the demo configuration and an admin login. Safe to run again (every `make run` does):
it creates only what is missing — engines, routes, clients the database does not have — and
never changes or deletes one that exists, whatever an admin did to it since; nor does it
reset an existing password."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from dihya import config
from dihya.config import recorder as config_audit
from fallbacks.models import Engine

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
                document = demo_document(engine_port, embed_port)
                changes = config.apply(document, missing_only=True)
        except config.ConfigError as exc:
            raise CommandError("the demo configuration was rejected:\n  "
                               + "\n  ".join(exc.problems)) from exc
        for change in changes:
            self.stdout.write(f"demo: {change.action} {change.kind} {change.name}")
        if not changes:
            self.stdout.write("demo: configuration already in place (existing items kept as "
                              "they are)")
        self.report_moved_engines(document)
        self.ensure_admin()

    def report_moved_engines(self, document: dict) -> None:
        """An existing local engine is kept even when it points at another port than the one
        started now: say so, rather than rewrite what an admin may have set."""
        wanted = {e["name"]: e["base_url"] for e in document["engines"]
                  if e["base_url"].startswith("http://127.0.0.1:")}
        for name, base_url in Engine.objects.filter(name__in=wanted).values_list(
                "name", "base_url"):
            if base_url != wanted[name]:
                self.stdout.write(f"demo: engine {name} kept at {base_url} (this start serves "
                                  f"{wanted[name]}; change it in the admin if it should use "
                                  "that)")

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
            if user := User._default_manager.filter(**{User.USERNAME_FIELD: username}).first():
                self.forget_changed_password(user)
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
            path = Path(settings.DIHYA_ADMIN_PASSWORD_FILE)
            write_private(path, f"{username} / {password}\n")
            self.stdout.write(f"admin login: {username} / {password}  (also in {path}, "
                              f"readable by you only, until you change it with "
                              f"python manage.py changepassword {username})")

    def forget_changed_password(self, user: AbstractBaseUser) -> None:
        """Remove the password file once it no longer opens the account: it was changed."""
        path = Path(settings.DIHYA_ADMIN_PASSWORD_FILE)
        try:
            password = path.read_text(encoding="utf-8").split(" / ", 1)[1].strip()
        except (OSError, IndexError):
            return
        if not user.check_password(password):
            path.unlink(missing_ok=True)
            self.stdout.write(f"admin login: the password was changed; removed {path}")


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner may read (0600 from the start, never wider)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
