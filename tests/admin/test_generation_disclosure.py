"""Auditors and Operators see a generation redacted and pseudonymised, as the audit log shows
it, and cannot search by a person's id; superusers see it raw."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dihya.gateway.models import ApiClient, Generation

RAW = ("zoe-42", "zoe@example.org", "hooks.example.org/secret-path", "s3cret-token")


@pytest.fixture
def generation(db) -> Generation:
    client = ApiClient.objects.create(name="crm", end_users=True)
    return Generation.objects.create(
        source=Generation.Source.CHAT, client=client, end_user="zoe-42", route_name="default",
        status="succeeded", engine_name="fake",
        request={"messages": [{"role": "user", "content": "Write to zoe@example.org"}]},
        result="Done: mailed zoe@example.org", error_message="",
        callback_url="https://hooks.example.org/secret-path?token=s3cret-token")


@pytest.mark.parametrize("role", ["Auditors", "Operators"])
def test_a_role_sees_the_redacted_pseudonymised_generation(staff_in, generation, role):
    viewer = staff_in(role)

    page = viewer.get(reverse("admin:gateway_generation_change", args=[generation.pk]))
    progress = viewer.get(reverse("admin:generation-progress", args=[generation.pk]))

    assert page.status_code == 200
    text = page.content.decode() + progress.content.decode()
    assert not [raw for raw in RAW if raw in text]
    assert "[email]" in text and "q_" in text and "hooks.example.org" in text


@pytest.mark.parametrize("role", ["Auditors", "Operators"])
def test_a_role_cannot_find_generations_by_a_persons_id(staff_in, generation, role):
    viewer = staff_in(role)

    found = viewer.get(reverse("admin:gateway_generation_changelist"), {"q": "zoe-42"})

    assert found.status_code == 200 and str(generation.pk) not in found.content.decode()


def test_a_superuser_sees_it_raw(admin_client, generation):
    page = admin_client.get(reverse("admin:gateway_generation_change", args=[generation.pk]))
    found = admin_client.get(reverse("admin:gateway_generation_changelist"), {"q": "zoe-42"})

    assert "zoe@example.org" in page.content.decode() and "zoe-42" in page.content.decode()
    assert str(generation.pk) in found.content.decode()
