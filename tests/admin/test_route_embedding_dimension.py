"""A route's embedding dimension is shown and edited in the admin; blank clears it."""

from __future__ import annotations

from django.urls import reverse

from fallbacks import catalog
from fallbacks.models import Route
from tests.admin.conftest import form_data


def test_it_edits_lists_and_clears_the_dimension(admin_client, seeded):
    route = Route.objects.get()
    url = reverse("admin:fallbacks_route_change", args=[route.pk])
    page = admin_client.get(url)
    assert 'name="embedding_dimension"' in page.content.decode()
    data = form_data(page)
    assert "embedding_dimension" not in data  # blank

    data["embedding_dimension"] = "576"
    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    assert catalog.route_spec("default").embedding_dimension == 576
    listing = admin_client.get(reverse("admin:fallbacks_route_changelist")).content.decode()
    assert "576" in listing

    data["embedding_dimension"] = ""
    assert admin_client.post(url, data).status_code == 302
    route.refresh_from_db()
    assert route.embedding_dimension is None


def test_it_refuses_a_dimension_of_zero(admin_client, seeded):
    url = reverse("admin:fallbacks_route_change", args=[Route.objects.get().pk])
    data = form_data(admin_client.get(url))
    data["embedding_dimension"] = "0"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "embedding_dimension" in response.context["adminform"].form.errors
