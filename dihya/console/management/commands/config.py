"""`config apply FILE` / `config export`: the deployment's configuration as YAML."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dihya import config
from dihya.config import recorder as config_audit


class Command(BaseCommand):
    help = ("Apply a YAML configuration (engines, routes, clients) or export the current one. "
            "See docs/configuration.md.")

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        apply = actions.add_parser("apply", help="Make the database match FILE ('-': stdin).")
        apply.add_argument("file")
        apply.add_argument("--prune", action="store_true",
                           help="Also delete engines, routes and clients the file does not "
                                "name (only in the sections the file contains).")
        apply.add_argument("--check", action="store_true",
                           help="Validate only: change nothing.")
        actions.add_parser("export", help="Print the current configuration as YAML.")

    def handle(self, *args: object, action: str, **options: object) -> None:
        if action == "export":
            self.stdout.write(config.export_yaml(), ending="")
            return
        path = str(options["file"])
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            if options["check"]:
                config.validate_yaml(text, prune=bool(options["prune"]))
                self.stdout.write(f"{path}: valid")
                return
            with config_audit.acting_as(f"config apply ({config_audit.os_user()})"):
                changes = config.apply_yaml(text, prune=bool(options["prune"]))
        except config.ConfigError as exc:
            raise CommandError(f"{path} was rejected, nothing changed:\n  "
                               + "\n  ".join(exc.problems)) from exc
        for change in changes:
            self.stdout.write(f"{change.action} {change.kind} {change.name}")
        self.stdout.write(f"{path}: {len(changes) or 'no'} change{'s' * (len(changes) != 1)}")
