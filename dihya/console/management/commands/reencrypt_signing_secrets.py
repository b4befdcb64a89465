"""Re-encrypt every client's sealed signing secret under the first DIHYA_ENCRYPTION_KEY.

The companion of `reencrypt_secrets` (engine keys) in a rotation of DIHYA_ENCRYPTION_KEY
(docs/security.md): run both before dropping the old key. A row is updated only if it still
holds the token that was read, so a secret rotated meanwhile is never overwritten.

Never prints a secret, plaintext or sealed: only client names.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dihya.gateway.models import ApiClient
from dihya.lib import sealing


class Command(BaseCommand):
    help = "Re-encrypt clients' signing secrets under the first DIHYA_ENCRYPTION_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true",
                            help="Check that every secret decrypts; change nothing.")

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        done, unreadable = 0, []
        stored = ApiClient.objects.exclude(signing_secret="").order_by("name")
        for pk, name, token in stored.values_list("pk", "name", "signing_secret"):
            try:
                fresh = sealing.reseal(token)
            except sealing.SealError:
                unreadable.append(name)
                continue
            done += 1 if dry_run else ApiClient.objects.filter(
                pk=pk, signing_secret=token).update(signing_secret=fresh)
        self.stdout.write(f"{'would re-encrypt' if dry_run else 're-encrypted'} {done} "
                          "signing secret(s)")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} signing secret(s) decrypt with none of the configured keys: "
                f"{', '.join(unreadable)}. Add the key they were written with to "
                "DIHYA_ENCRYPTION_KEY (after the new one), or rotate those clients' secrets.")
