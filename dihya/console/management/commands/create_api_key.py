"""Create an API key for a client (creating the client if needed) and print it, once.

The key is the last line of stdout and nothing else, so scripts can take it with `tail -n1`;
everything said about it goes to stderr. It cannot be shown again: only its digest is kept.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from dihya.gateway import keys
from dihya.gateway.models import ApiClient, ApiKey
from fallbacks.models import NAME_VALIDATOR, Route


class Command(BaseCommand):
    help = "Create an API key for CLIENT and print it (shown once), e.g. create_api_key billing"

    def add_arguments(self, parser):
        parser.add_argument("client", help="The client's name; created if it does not exist.")
        parser.add_argument("--route", action="append", default=[], dest="routes",
                            help="A route the client may use (repeatable). A new client given "
                                 "none may use every route that exists now.")
        parser.add_argument("--name", default="", help="A label for the key.")
        parser.add_argument("--expires-in-days", type=int, default=None)
        parser.add_argument("--scope", action="append", choices=ApiKey.SCOPES,
                            dest="scopes", default=None,
                            help="What the key may do (repeatable; default: chat and jobs).")
        parser.add_argument("--end-users", action="store_true",
                            help="A new client serves end users (their consent is required).")
        parser.add_argument("--user-ids", choices=("client", "username", "email", "sub"),
                            default="client",
                            help="What a new client's `user` values are (default: its own ids).")

    @transaction.atomic
    def handle(self, *args, client: str, routes: list[str], name: str,
               expires_in_days: int | None, end_users: bool, scopes: list[str] | None,
               user_ids: str = "client", **options):
        try:
            NAME_VALIDATOR(client)
        except ValidationError as exc:
            raise CommandError(f"invalid client name {client!r}: {exc.messages[0]}") from None
        found = list(Route.objects.filter(name__in=routes))
        missing = set(routes) - {r.name for r in found}
        if missing:
            raise CommandError(f"no such route: {', '.join(sorted(missing))}")
        api_client, created = ApiClient.objects.get_or_create(
            name=client, defaults={"end_users": end_users, "user_ids": user_ids})
        if created and not routes:
            found = list(Route.objects.all())
        if found:
            api_client.routes.add(*found)
        expires = (timezone.now() + timedelta(days=expires_in_days)
                   if expires_in_days else None)
        key, raw = keys.issue(api_client, name=name, expires=expires,
                              scopes=frozenset(scopes or ("chat", "jobs")))
        allowed = ", ".join(api_client.routes.values_list("name", flat=True)) or "none yet"
        self.stderr.write(f"{'created' if created else 'existing'} client {client!r}; "
                          f"routes: {allowed}; key {key.prefix}… "
                          f"scopes: {', '.join(sorted(key.scopes))}; "
                          f"{'expires ' + expires.isoformat() if expires else 'never expires'}")
        self.stderr.write("The key is shown once; store it now.")
        self.stdout.write(raw)
