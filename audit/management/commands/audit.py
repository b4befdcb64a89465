"""`audit verify`: walk the keyed hash chain and report the first broken link.

On success it prints the head hash: copying it somewhere outside the database (a ticket, a log
shipped elsewhere) lets a later run show that no newest event was deleted since, which the key
alone cannot (see `audit.log`). It names the period the kept events cover: what retention
(DIHYA_RETAIN_AUDIT_DAYS) left is what the chain proves, from its base (the hash of the last
event purged) to its head.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max, Min

from audit import log
from audit.models import AuditChain, AuditEvent


class Command(BaseCommand):
    help = "Check the audit log's hash chain (keyed with DIHYA_AUDIT_KEY)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        checked, broken = log.verify()
        if broken is not None:
            raise CommandError(f"audit chain broken after {checked} good events at {broken}")
        head = AuditChain.objects.filter(pk=1).values_list("last_hash", flat=True).first()
        kept = AuditEvent.objects.aggregate(first=Min("created"), last=Max("created"))
        period = (f" from {kept['first']:%Y-%m-%d %H:%M} to {kept['last']:%Y-%m-%d %H:%M} UTC"
                  if kept["first"] else "")
        self.stdout.write(f"audit chain ok: {checked} events{period}, head "
                          f"{head or log.GENESIS}")
