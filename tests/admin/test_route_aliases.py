"""A route's aliases are edited in the admin, listed beside it, and refused when ambiguous."""

from __future__ import annotations

import json

from django.urls import reverse

from fallbacks import catalog
from fallbacks.models import Route
from tests.admin.conftest import form_data


def test_it_edits_and_lists_the_aliases(admin_client, seeded):
    url = reverse("admin:fallbacks_route_change", args=[Route.objects.get().pk])
    data = form_data(admin_client.get(url))
    data["aliases"] = json.dumps(["claude-*", "gpt-5-codex"])

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    assert catalog.route_spec("claude-sonnet-4-5").name == "default"
    assert catalog.route_spec("gpt-5-codex").name == "default"
    listing = admin_client.get(reverse("admin:fallbacks_route_changelist")).content.decode()
    assert "claude-*, gpt-5-codex" in listing


def test_it_refuses_an_alias_another_route_has(admin_client, seeded):
    Route.objects.create(name="coder", aliases=["gpt-5*"])
    url = reverse("admin:fallbacks_route_change", args=[Route.objects.get(name="default").pk])
    data = form_data(admin_client.get(url))
    data["aliases"] = json.dumps(["gpt-5*", "coder"])

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["aliases"] == [
        "'gpt-5*' is already an alias of route 'coder'", "'coder' is the name of a route"]
    assert Route.objects.get(name="default").aliases == []
