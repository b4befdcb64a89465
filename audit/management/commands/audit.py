"""`audit verify`: walk the keyed hash chain and report the first broken link.

On success it prints the head hash: copying it somewhere outside the database (a ticket, a log
shipped elsewhere) lets a later run show that no newest event was deleted since, which the key
alone cannot (see `audit.log`).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit import log
from audit.models import AuditChain


class Command(BaseCommand):
    help = "Check the audit log's hash chain (keyed with DIHYA_AUDIT_KEY)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        checked, broken = log.verify()
        if broken is not None:
            raise CommandError(f"audit chain broken after {checked} good events at {broken}")
        head = AuditChain.objects.filter(pk=1).values_list("last_hash", flat=True).first()
        self.stdout.write(f"audit chain ok: {checked} events, head {head or log.GENESIS}")
