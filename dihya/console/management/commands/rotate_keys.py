"""Re-seal every stored secret under the first DIHYA_ENCRYPTION_KEY: the one rotation command.

Rotation (docs/security.md): put the new key first in DIHYA_ENCRYPTION_KEY, keep the old ones
after it (comma-separated) so that stored secrets still open, restart, run this command, then
drop the old keys. It covers every sealed column, each with its own purpose
(`dihya.lib.sealing`): engines' API keys and clients' signing secrets. A row is updated only if
it still holds the token that was read, so a secret changed meanwhile (an engine key typed in
the admin, a client's secret rotated) is never overwritten with an older one.

Never prints a secret, plaintext or sealed: only counts and the names of engines and clients.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models

from dihya.gateway.models import ApiClient
from dihya.lib import sealing
from fallbacks.models import Engine

# Every sealed column: (what it holds, model, field, purpose). A new one is one line here and
# one re-sealing migration.
SEALED: tuple[tuple[str, type[models.Model], str, str], ...] = (
    ("engine key", Engine, "api_key_encrypted", sealing.ENGINE_KEYS),
    ("signing secret", ApiClient, "signing_secret", sealing.SIGNING_SECRETS),
)


class Command(BaseCommand):
    help = "Re-seal stored secrets (engine keys, signing secrets) under the first " \
           "DIHYA_ENCRYPTION_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="Check that every secret opens; change nothing.")
        parser.add_argument("--from-secret-key", action="store_true",
                            help="Also open secrets sealed before DIHYA_ENCRYPTION_KEY was set "
                                 "(under a key derived from SECRET_KEY).")

    def handle(self, *args: Any, dry_run: bool = False, from_secret_key: bool = False,
               **options: Any) -> None:
        unreadable: list[str] = []
        for what, model, field, purpose in SEALED:
            sealer = sealing.for_purpose(purpose, from_secret_key=from_secret_key)
            done, lost = self.reseal(model, field, sealer, dry_run)
            verb = "would re-seal" if dry_run else "re-sealed"
            self.stdout.write(f"{verb} {done} {what}(s)")
            unreadable += [f"{what} of {name}" for name in lost]
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} secret(s) open with none of the configured keys: "
                f"{', '.join(unreadable)}. Add the key they were sealed with to "
                "DIHYA_ENCRYPTION_KEY (after the new one), or type those engine keys again / "
                "rotate those clients' signing secrets.")

    @staticmethod
    def reseal(model: type[models.Model], field: str, sealer: sealing.Sealer,
               dry_run: bool) -> tuple[int, list[str]]:
        done, lost = 0, []
        rows = model._default_manager.exclude(**{field: ""}).order_by("name")
        for pk, name, token in rows.values_list("pk", "name", field):
            try:
                fresh = sealer.reseal(token)
            except sealing.SealError:
                lost.append(name)
                continue
            done += 1 if dry_run else model._default_manager.filter(
                pk=pk, **{field: token}).update(**{field: fresh})
        return done, lost
