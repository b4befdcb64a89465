"""One person as the tables know them, everywhere or at one client.

People are per client: the id a client sends names someone at that client only, and what a
client holds about them is that client's. A person's own request (signed in) or an admin's
reaches everything; a client's data request (`dihya.api.people`) and a consent link's
session (`dihya.privacy.session`) reach that client's part only (`person(user, client)`).
Audit events are found by `person` (`audit.log.person_of`: the client and the pseudonym of
the id there), never by a raw id: two people with the same id at two clients stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q

from audit import identities
from audit.models import ConsentLink, ErasureReceipt, ExternalIdentity
from dihya.gateway.models import ApiClient, Generation
from dihya.lib.pseudonyms import person_at, pseudonym


@dataclass(frozen=True)
class Person:
    """Account, the ids clients use, pseudonyms (quota subjects), audit persons, jobs; and the
    client this is limited to (None: everything)."""

    user: AbstractBaseUser
    names: frozenset[str]
    pseudonyms: frozenset[str]
    generation_ids: tuple[Any, ...]
    persons: frozenset[str] = frozenset()
    client: ApiClient | None = None
    receipt: ErasureReceipt | None = None

    @property
    def account(self) -> str:
        """The audit person of the account itself (consents, sign-ins, data requests)."""
        return person_at("", pseudonym(self.user.get_username()))

    @property
    def client_name(self) -> str | None:
        return None if self.client is None else self.client.name


def person(user: AbstractBaseUser, client: ApiClient | None = None) -> Person:
    """The person's generations are those linked to their account, and those a client made
    for one of the ids it knows them by (at that client only: ids are per client)."""
    username = user.get_username()
    known = identities.client_ids_of(user)
    end_user_clients = ApiClient.objects.filter(end_users=True)
    if client is not None:
        known = [(c, e) for c, e in known if c in (None, client.pk)]
        end_user_clients = end_user_clients.filter(pk=client.pk)
    names = {external_id for _, external_id in known}
    mine = Q(user=user)
    if client is None:
        names.add(username)
        mine |= (Q(client__isnull=True, end_user=username)
                 | Q(client__end_users=True, client__user_ids="username", end_user=username))
    elif client.end_users and client.user_ids == "username":
        mine |= Q(end_user=username)
    for client_id, external_id in known:
        mine |= (Q(client__end_users=True, end_user=external_id) if client_id is None
                 else Q(client_id=client_id, end_user=external_id))
    if client is not None:
        mine &= Q(client=client)
    rows = Generation.objects.filter(mine)
    seen = set(rows.values_list("client__name", "end_user").distinct())
    names.update(end_user for _, end_user in seen if end_user)
    # Who the audit log knows: each (client, id) this person is, never an id alone.
    clients = dict(ApiClient.objects.values_list("pk", "name"))
    pairs = {(name or "", end_user) for name, end_user in seen if end_user}
    for client_id, external_id in known:
        if client_id is not None:
            pairs.add((clients.get(client_id, ""), external_id))
        else:
            pairs.update((name, external_id)
                         for name in end_user_clients.values_list("name", flat=True))
    links = ConsentLink.objects.filter(user_id=user.pk)
    if client is not None:
        links = links.filter(client_id=client.pk)
    pairs.update(links.values_list("client_name", "external_id"))
    persons = {person_at(name, pseudonym(external_id)) for name, external_id in pairs}
    if client is None:
        persons.add(person_at("", pseudonym(username)))
        quota_names = frozenset(pseudonym(n) for n in names)
    else:
        quota_names = frozenset()  # counters are the account's, shared by its clients
    ids = tuple(rows.values_list("id", flat=True))
    return Person(user, frozenset(names), quota_names, ids, frozenset(persons), client)


def wholly_at(user: AbstractBaseUser, client: ApiClient) -> bool:
    """Whether everything about this person is this client's: an account the client brought
    (no password, no sign-in, not staff) that no other client or admin knows and no other
    client served. Erasing their part at this client then erases them."""
    if getattr(user, "is_staff", False) or user.has_usable_password():
        return False
    others = ExternalIdentity.objects.filter(user_id=user.pk).exclude(client_id=client.pk)
    return not others.exists() and not Generation.objects.filter(user_id=user.pk).exclude(
        client=client).exists()
