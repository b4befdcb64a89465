"""`record_of_processing`: the GDPR Art. 30 record, signed; `--verify FILE` checks a copy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from dihya.privacy import record


def day(text: str) -> dt.datetime:
    """YYYY-MM-DD (midnight, in the current time zone) or a full ISO 8601 time."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date: {text!r} (YYYY-MM-DD)") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = ("Print the record of processing activities (GDPR Art. 30), dated and signed with "
            "the audit key; or check a copy of one with --verify.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=["html", "json", "csv"], default="json")
        parser.add_argument("--since", type=day, help="Start of the period of the volume "
                            f"figures (default: {record.DEFAULT_DAYS} days before --until).")
        parser.add_argument("--until", type=day, help="End of the period (default: now).")
        parser.add_argument("--output", type=Path, help="Write to this file, not stdout.")
        parser.add_argument("--verify", type=Path, metavar="FILE",
                            help="Check that a JSON or HTML copy is as Dihya signed it.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["verify"]:
            try:
                signed = record.load(options["verify"].read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read a signed record from "
                                   f"{options['verify']}: {exc}") from None
            if not record.verify(signed):
                raise CommandError("the record does NOT match its signature: it was changed, "
                                   "or signed with another audit key")
            self.stdout.write(f"the record is intact: generated "
                              f"{signed['record'].get('generated')}, signature valid")
            return
        since, until = record.period(options["since"], options["until"])
        if since >= until:
            raise CommandError("--since must be before --until")
        _, text = record.render(record.sign(record.build(since, until)), options["format"])
        if options["output"]:
            options["output"].write_text(text, encoding="utf-8")
        else:
            self.stdout.write(text, ending="")
