"""Names for the pseudonymous subjects that quota counters and alerts carry, for the console.

The ledger counts `client:<id>` and `user:<pseudonym>` (quotas.plans) and never stores a name.
An admin reading an alert wants "billing-app" and "alice-42 at billing-app", so the console
looks the names up when it shows them: clients by id, people by computing the pseudonym of
every name the tables know them by (usernames and the ids clients use) and keeping those that
match. That is one keyed hash per known name: bounded by `LOOKUP_LIMIT`, beyond which the
pseudonym is shown as it is. Never stored, never logged: only rendered.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model

from audit.models import ExternalIdentity
from dihya.gateway.models import ApiClient
from dihya.lib.pseudonyms import pseudonym

LOOKUP_LIMIT = 20_000


def client_id(subject: str) -> int | None:
    kind, _, rest = subject.partition(":")
    return int(rest) if kind == "client" and rest.isdigit() else None


def names(subjects: Iterable[str]) -> dict[str, str]:
    """{subject: readable name} for those subjects that could be named (3 queries at most)."""
    subjects = set(subjects)
    found: dict[str, str] = {}
    ids = {cid: s for s in subjects if (cid := client_id(s)) is not None}
    if ids:
        for pk, name in ApiClient.objects.filter(pk__in=ids).values_list("pk", "name"):
            found[ids[pk]] = name
    for s in subjects:
        if s.startswith("engine:"):
            found[s] = f"engine {s.partition(':')[2]}"
    wanted = {s.partition(":")[2] for s in subjects if s.startswith("user:")}
    if wanted:
        found |= {f"user:{p}": name for p, name in _people(wanted).items()}
    return found


def _people(wanted: set[str]) -> dict[str, str]:
    """{pseudonym: name} for the pseudonyms in `wanted` that a known name hashes to."""
    clients = dict(ApiClient.objects.values_list("pk", "name"))
    known: dict[str, str] = {}
    identities = (ExternalIdentity.objects.order_by("-created")
                  .values_list("external_id", "client_id")[:LOOKUP_LIMIT])
    for external_id, cid in identities:
        where = clients.get(cid) if cid is not None else None
        known.setdefault(external_id, f"{external_id} at {where}" if where else external_id)
    User = get_user_model()
    for username in (User._default_manager.order_by("-pk")
                     .values_list(User.USERNAME_FIELD, flat=True)[:LOOKUP_LIMIT]):
        known.setdefault(username, username)
    found = {}
    for name, label in known.items():
        p = pseudonym(name)
        if p in wanted:
            found[p] = label
    return found


def label(subject: str, named: dict[str, str]) -> str:
    """The name if known, else the subject as stored (a pseudonym says it is one)."""
    if subject in named:
        return named[subject]
    if subject.startswith("user:"):
        return f"a person (pseudonym {subject[5:13]}…)"
    return subject
