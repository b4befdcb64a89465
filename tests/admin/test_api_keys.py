"""Operators create keys in the admin (shown once, stored as a hash) and revoke them."""

from __future__ import annotations

from dihya.gateway import keys
from dihya.gateway.models import ApiClient, ApiKey


def test_it_creates_a_key_and_shows_it_once(admin_client, db):
    client = ApiClient.objects.create(name="billing")

    response = admin_client.post("/admin/gateway/apikey/add/", {
        "client": client.pk, "name": "ci", "allows_chat": "on"})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = response.context["raw"]
    assert raw.startswith("dk-") and raw.encode() in response.content
    key = ApiKey.objects.get()
    assert key.digest == keys.digest_of(raw) and raw not in (key.prefix, key.digest)
    assert key.scopes == frozenset({"chat"})
    assert keys.verify(raw).client == client
    page = admin_client.get(f"/admin/gateway/apikey/{key.pk}/change/")
    assert raw.encode() not in page.content


def test_it_revokes_keys_at_once(admin_client, transactional_db):
    key, raw = keys.issue(ApiClient.objects.create(name="billing"))
    assert keys.verify(raw) is not None

    admin_client.post("/admin/gateway/apikey/", {"action": "revoke_keys",
                                                 "_selected_action": [key.pk]})

    assert keys.verify(raw) is None
    key.refresh_from_db()
    assert key.revoked is not None


def test_a_key_cannot_be_edited(admin_client, db):
    key, _ = keys.issue(ApiClient.objects.create(name="billing"))

    admin_client.post(f"/admin/gateway/apikey/{key.pk}/change/", {"name": "renamed"})

    key.refresh_from_db()
    assert key.name == ""


def test_it_shows_the_new_key_in_snippets_for_the_host_the_admin_reached(admin_client, db):
    client = ApiClient.objects.create(name="billing")

    response = admin_client.post("/admin/gateway/apikey/add/", {
        "client": client.pk, "name": "ci", "allows_chat": "on"}, HTTP_HOST="localhost:8123")

    raw = response.context["raw"]
    texts = {s.slug: s.text for s in response.context["snippets"]}
    assert set(texts) == {"curl", "openai", "codex", "claude"}
    assert 'base_url = "http://localhost:8123/v1"' in texts["codex"]
    assert "export ANTHROPIC_BASE_URL=http://localhost:8123\n" in texts["claude"]
    assert all(raw in text for text in texts.values())
