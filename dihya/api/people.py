"""Data requests on a person's behalf: `POST /api/v1/people/{user}/export` and `/erase`.

For apps where people ask for their data in the app's own screens. The `people` scope guards
both; a client reaches only people it has served (`identity.has_served`), never staff (who
ask an admin), and only its own part of them (`dihya.privacy.person`): what it holds, never
what other clients hold, which it must neither read nor erase. The answer is that part of the
export a person downloads, or the erasure receipt (counts only); the account itself goes only
when nothing else is left of it. The person (signed in) or an admin reaches everything.
Each request is an audit event naming the client and the person's pseudonym.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja import Router, Schema

from audit import log
from dihya.api.auth import BearerKey, caller
from dihya.api.schemas import ERRORS
from dihya.gateway.models import ApiClient
from dihya.generation import hops, identity
from dihya.generation.errors import Refusal
from dihya.lib.pseudonyms import pseudonym
from dihya.privacy import erasure

router = Router(tags=["People"], auth=BearerKey())


class Receipt(Schema):
    object: str = "erasure_receipt"
    id: str
    created: str
    counts: dict[str, int]


def person_of(token: str, user: str) -> tuple[ApiClient, AbstractBaseUser]:
    client = caller(token, "", scope="people").client
    person = identity.resolve(client, user) if client is not None else None
    if (client is None or person is None or not identity.has_served(client, person)
            or getattr(person, "is_staff", False)):
        raise Refusal(404, "user_not_found", "This client has served nobody by that `user` "
                      "(staff ask an admin).", param="user")
    return client, person


def export(token: str, user: str) -> dict[str, Any]:
    client, person = person_of(token, user)
    log.record("data_request", subject=pseudonym(person.get_username()),
               actor=f"client:{client.name}", client=client.name, details={"kind": "export"})
    return erasure.export(person, client)


def erase(token: str, user: str) -> dict[str, Any]:
    client, person = person_of(token, user)
    log.record("data_request", subject=pseudonym(person.get_username()),
               actor=f"client:{client.name}", client=client.name, details={"kind": "erase"})
    receipt = erasure.erase(person, by="client", client=client)
    return {"object": "erasure_receipt", "id": str(receipt.pk),
            "created": receipt.created.isoformat(), "counts": receipt.counts}


@router.post("/people/{user}/export", response={200: dict[str, Any], **ERRORS},
             summary="Export a person's data", operation_id="export_person")
async def export_person(request: HttpRequest, user: str) -> dict[str, Any]:
    """Everything Dihya holds about this person, as they would download it."""
    return await hops.db(export)(request.auth, user[:256])  # type: ignore[attr-defined]


@router.post("/people/{user}/erase", response={200: Receipt, **ERRORS},
             summary="Erase a person's data", operation_id="erase_person")
async def erase_person(request: HttpRequest, user: str) -> dict[str, Any]:
    """Erase the person and their account; the receipt holds counts only."""
    return await hops.db(erase)(request.auth, user[:256])  # type: ignore[attr-defined]
