"""Stored Responses API answers: kept, found and forgotten per client.

A client only ever reaches its own: another client's id reads as unknown (the same 404), so
ids cannot be probed. What is kept is content (`StoredResponse`): the privacy app exports,
erases and purges it with the generations (dihya.privacy.erasure).
"""

from __future__ import annotations

from typing import Any

from dihya.gateway.models import ApiClient, Generation, StoredResponse
from dihya.generation import hops


def keep(generation: Generation, items: list[dict[str, Any]], response: dict[str, Any]) -> None:
    """Store an answer (a synchronous write: run it on a database thread)."""
    if generation.client_id is None:  # an operator's call: no client could ask for it again
        return
    with hops.one_writer():
        StoredResponse.objects.update_or_create(id=response["id"], defaults={
            "client_id": generation.client_id, "generation_id": generation.pk,
            "end_user": generation.end_user, "user_id": generation.user_id, "items": items,
            "response": response})


def find(client: ApiClient | None, response_id: str) -> StoredResponse | None:
    if client is None:
        return None
    return StoredResponse.objects.filter(client=client, id=response_id).first()


def forget(client: ApiClient | None, response_id: str) -> bool:
    if client is None:
        return False
    with hops.one_writer():
        return StoredResponse.objects.filter(client=client, id=response_id).delete()[0] > 0


def conversation(stored: StoredResponse) -> list[dict[str, Any]]:
    """What a response continuing this one starts from: its inputs, then its output."""
    return [*stored.items, *stored.response.get("output", [])]
