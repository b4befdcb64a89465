"""`GET /api/v1/quota`: the caller's limits, usage, what remains and when each window resets.

The seed's `checkQuota`: an internal app can look before it asks, for itself and, with
`?user=`, for one of its end users (both sets of limits apply to a call made for that person).
`?user=` answers only about a person this client has served (`identity.has_served`): any other
name is 404 `user_not_found`, so that no key can read someone's usage at other clients.
Subjects are shown as pseudonyms, as everywhere else. The limits of batch lines alone
(`batch_tokens`…) are listed with the others.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from dihya.api.auth import BearerKey, caller
from dihya.api.schemas import ERRORS
from dihya.gateway.models import Generation
from dihya.generation import hops, identity
from dihya.generation.errors import Refusal
from quotas import ledger, plans

router = Router(tags=["Quota"], auth=BearerKey())


class Standing(Schema):
    subject: str
    plan: str
    metric: str = Field(..., description="requests, tokens or cost; batch_requests, "
                        "batch_tokens or batch_cost count batch lines only")
    period: str = Field(..., description="minute, hour, day or month")
    limit: int
    hard: bool
    used: int
    remaining: int
    window_start: str
    resets_at: str


class QuotaStatus(Schema):
    object: str = "quota"
    data: list[Standing]


def user_not_found(user: str) -> Refusal:
    return Refusal(404, "user_not_found", "This client has served nobody by that `user`.",
                   param="user")


def status_for(token: str, user: str) -> dict[str, Any]:
    who = caller(token, Generation.Source.CHAT, scope="")
    client_id = who.client.pk if who.client else None
    if not user:
        bounds = plans.bounds_for(client_id, None, "", batch=True)
    else:
        account = identity.resolve(who.client, user)
        if account is None or not identity.has_served(who.client, account):
            raise user_not_found(user)
        bounds = plans.bounds_for(client_id, account.pk, account.get_username(), batch=True)
    return {"object": "quota", "data": [s.as_dict() for s in ledger.status(bounds)]}


@router.get("/quota", response={200: QuotaStatus, **ERRORS}, summary="Quota status",
            operation_id="quota_status")
async def quota_status(request: HttpRequest, user: str = "") -> dict[str, Any]:
    """Every limit that applies to this key's calls (and to calls for `user`, if given)."""
    return await hops.db(status_for)(request.auth, user[:256])  # type: ignore[attr-defined]
