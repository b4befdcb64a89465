"""Give a client a new secret signing its job callbacks, and print it, once.

The secret is the last line of stdout and nothing else (`tail -n1`); everything said about it
goes to stderr. The previous secret stops signing at once: give the new one to the client's
receiver first if it must not miss a callback (docs/security.md).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from dihya.gateway.models import ApiClient


class Command(BaseCommand):
    help = "Rotate the callback signing secret of CLIENT and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("client", help="The client's name.")

    def handle(self, *args, client: str, **options):
        found = ApiClient.objects.filter(name=client).first()
        if found is None:
            raise CommandError(f"no such client: {client!r}")
        raw = found.new_signing_secret()
        found.save(update_fields=["signing_secret"])
        self.stderr.write(f"client {client!r}: new signing secret; the previous one no longer "
                          "signs anything. It is shown once; store it now.")
        self.stdout.write(raw)
