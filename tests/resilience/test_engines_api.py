"""`GET /api/v1/engines`: breaker states through the API, for the engines a key may reach."""

from __future__ import annotations

from django.test import Client

from dihya.gateway import keys
from dihya.gateway.models import ApiClient
from fallbacks import breaker_control


def key_for(*routes) -> str:
    client = ApiClient.objects.create(name="app")
    client.routes.add(*routes)
    return keys.issue(client)[1]


def test_it_lists_the_breakers_of_the_engines_a_key_may_use(db, make_engine, make_route,
                                                           dead_url):
    mine, other = make_engine(dead_url, name="mine"), make_engine(dead_url, name="other")
    route = make_route("r", mine)
    make_route("secret", other)
    breaker_control.force("mine", "open", actor="admin", reason="maintenance")

    response = Client().get("/api/v1/engines",
                            headers={"Authorization": f"Bearer {key_for(route)}"})

    assert response.status_code == 200
    data = response.json()["data"]
    assert [(e["engine"], e["state"], e["forced"]) for e in data] == [("mine", "open", True)]
    assert "base_url" not in data[0]


def test_it_needs_a_key(db):
    response = Client().get("/api/v1/engines")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
