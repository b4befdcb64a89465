"""`purge --user NAME` erases one person; `purge --older-than DAYS` applies a retention."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dihya.privacy import erasure


class Command(BaseCommand):
    help = "Erase one person's data, or delete records older than a number of days."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--user", help="Username (or external id) of the person to erase.")
        group.add_argument("--older-than", type=int, metavar="DAYS",
                           help="Delete generations, tasks and audit events older than DAYS.")
        group.add_argument("--retention", action="store_true",
                           help="Apply DIHYA_RETENTION_DAYS (what the daily schedule does).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["user"]:
            user = _find(options["user"])
            receipt = erasure.erase(user, by="command")
            self.stdout.write(f"erased; receipt {receipt.pk}: {receipt.counts}")
            return
        if options["older_than"] is not None:
            if options["older_than"] < 0:
                raise CommandError("--older-than must be 0 or more days")
            days: dict[str, int | None] = dict.fromkeys(settings.DIHYA_RETENTION_DAYS,
                                                        options["older_than"])
            counts = erasure.purge_expired(days, by="command")
        else:
            counts = erasure.purge_expired(by="command")
        self.stdout.write(f"purged: {counts}")


def _find(name: str) -> Any:
    from audit.models import ExternalIdentity

    User = get_user_model()
    user = User._default_manager.filter(**{User.USERNAME_FIELD: name}).first()
    if user is None:
        links = list(ExternalIdentity.objects.filter(external_id=name).select_related("user")[:2])
        if len(links) > 1:  # ids are per client: two people may share one
            raise CommandError(f"{name!r} names people at several clients: give a username")
        user = links[0].user if links else None
    if user is None:
        raise CommandError(f"no account named {name!r}")
    return user
