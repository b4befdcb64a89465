"""An engine's capabilities are ticked in the admin; none ticked means the provider's."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fallbacks.models import Engine
from tests.admin.conftest import form_data


@pytest.fixture
def engine(seeded) -> Engine:
    return Engine.objects.get(name="first")


def test_it_edits_and_lists_capabilities(admin_client, engine):
    url = reverse("admin:fallbacks_engine_change", args=[engine.pk])
    data = form_data(admin_client.get(url))
    data["capabilities"] = ["chat", "vision"]
    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content[:2000]
    engine.refresh_from_db()
    assert engine.capabilities == ["chat", "vision"]
    listing = admin_client.get(reverse("admin:fallbacks_engine_changelist")).content.decode()
    assert "chat, vision" in listing


def test_it_takes_embeddings(admin_client, engine):
    url = reverse("admin:fallbacks_engine_change", args=[engine.pk])
    data = form_data(admin_client.get(url))
    data["capabilities"] = ["embeddings"]

    assert admin_client.post(url, data).status_code == 302
    engine.refresh_from_db()
    assert engine.capability_set() == frozenset({"embeddings"})
