"""An engine's key is write-only in the admin: stored encrypted, never rendered back."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fallbacks.models import Engine
from tests.admin.conftest import form_data

SECRET = "sk-admin-test-0123456789"


@pytest.fixture
def engine(seeded) -> Engine:
    return Engine.objects.get(name="first")


def post(admin_client, engine: Engine, **changes: str):
    url = reverse("admin:fallbacks_engine_change", args=[engine.pk])
    data = form_data(admin_client.get(url))
    data.update(changes)
    return admin_client.post(url, data)


def test_it_stores_a_new_key_encrypted(admin_client, engine):
    response = post(admin_client, engine, api_key=SECRET)

    assert response.status_code == 302
    engine.refresh_from_db()
    assert engine.has_stored_key and SECRET not in engine.api_key_encrypted
    assert engine.api_key() == SECRET


def test_it_never_renders_the_key_back(admin_client, engine):
    post(admin_client, engine, api_key=SECRET)
    change = reverse("admin:fallbacks_engine_change", args=[engine.pk])
    engine.refresh_from_db()

    pages = [admin_client.get(change), admin_client.get(reverse(
        "admin:fallbacks_engine_changelist"))]

    for page in pages:
        html = page.content.decode()
        assert SECRET not in html and engine.api_key_encrypted not in html
        assert "stored" in html


def test_a_rejected_form_does_not_echo_the_key(admin_client, engine):
    response = post(admin_client, engine, api_key=SECRET, base_url="not a url")

    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    engine.refresh_from_db()
    assert not engine.has_stored_key


def test_a_blank_field_keeps_the_stored_key(admin_client, engine):
    post(admin_client, engine, api_key=SECRET)

    post(admin_client, engine, model="other")

    engine.refresh_from_db()
    assert engine.model == "other" and engine.api_key() == SECRET


def test_it_clears_the_stored_key(admin_client, engine):
    post(admin_client, engine, api_key=SECRET)

    post(admin_client, engine, clear_api_key="on")

    engine.refresh_from_db()
    assert not engine.has_stored_key


def test_it_refuses_a_new_key_and_clearing_at_once(admin_client, engine):
    response = post(admin_client, engine, api_key=SECRET, clear_api_key="on")

    assert response.status_code == 200
    assert "not both" in response.content.decode()


# --- Which environment variables an engine may read, and keys that follow the host ----------

OWN_SECRETS = ["SECRET_KEY", "DATABASE_URL", "DIHYA_ENCRYPTION_KEY", "DIHYA_WEBHOOK_SECRET",
               "DIHYA_PSEUDONYM_KEY", "REDIS_URL", "EMAIL_URL", "HOME"]


@pytest.mark.parametrize("variable", OWN_SECRETS)
def test_an_operator_cannot_make_an_engine_read_dihyas_own_secrets(staff_in, engine, variable,
                                                                   monkeypatch):
    monkeypatch.setenv(variable, "dihya-own-secret-value")
    operator = staff_in("Operators")

    response = post(operator, engine, api_key_env=variable, base_url="https://evil.example/v1")

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "DIHYA_ENGINE_KEY_" in " ".join(form.errors["api_key_env"])
    assert "dihya-own-secret-value" not in response.content.decode()
    engine.refresh_from_db()
    assert (engine.api_key_env, engine.base_url) == ("", "http://127.0.0.1:9001/v1")


def test_a_variable_with_the_engine_key_prefix_is_accepted(admin_client, engine, monkeypatch):
    monkeypatch.setenv("DIHYA_ENGINE_KEY_FIRST", "sk-from-the-environment")

    response = post(admin_client, engine, api_key_env="DIHYA_ENGINE_KEY_FIRST")

    assert response.status_code == 302
    engine.refresh_from_db()
    assert engine.api_key() == "sk-from-the-environment"


def test_a_variable_the_deployer_lists_is_accepted(admin_client, engine, settings, monkeypatch):
    settings.DIHYA_ENGINE_KEY_VARIABLES = ["MISTRAL_API_KEY"]
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-listed")

    response = post(admin_client, engine, api_key_env="MISTRAL_API_KEY")

    assert response.status_code == 302
    engine.refresh_from_db()
    assert engine.api_key() == "sk-listed"


def test_the_prefix_alone_is_not_a_variable(admin_client, engine):
    response = post(admin_client, engine, api_key_env="DIHYA_ENGINE_KEY_")

    assert response.status_code == 200
    assert "api_key_env" in response.context["adminform"].form.errors


CLEARED = "the stored key was cleared because the host changed"


@pytest.mark.parametrize("new_url", ["https://evil.example/v1",  # host (and scheme)
                                     "http://127.0.0.1:9999/v1",  # port
                                     "https://127.0.0.1:9001/v1"])  # scheme
def test_changing_the_host_clears_the_stored_key(admin_client, engine, new_url):
    post(admin_client, engine, api_key=SECRET)

    response = post(admin_client, engine, base_url=new_url)

    assert response.status_code == 302
    engine.refresh_from_db()
    assert engine.base_url == new_url and not engine.has_stored_key
    page = admin_client.get(response["Location"]).content.decode()
    assert CLEARED in page


@pytest.mark.parametrize("new_url", ["http://127.0.0.1:9001/v2",  # another path
                                     "http://127.0.0.1:9001"])
def test_the_same_host_keeps_the_stored_key(admin_client, engine, new_url):
    post(admin_client, engine, api_key=SECRET)

    response = post(admin_client, engine, base_url=new_url)

    engine.refresh_from_db()
    assert engine.base_url == new_url and engine.api_key() == SECRET
    assert CLEARED not in admin_client.get(response["Location"]).content.decode()


def test_the_default_port_is_the_same_host(admin_client, engine):
    Engine.objects.filter(pk=engine.pk).update(base_url="https://api.example.com/v1")
    post(admin_client, engine, api_key=SECRET)

    post(admin_client, engine, base_url="https://API.example.com:443/v1")

    engine.refresh_from_db()
    assert engine.api_key() == SECRET


def test_a_new_key_given_with_the_new_host_is_kept(admin_client, engine):
    post(admin_client, engine, api_key=SECRET)

    response = post(admin_client, engine, base_url="https://other.example/v1",
                    api_key="sk-for-the-other-host")

    engine.refresh_from_db()
    assert engine.api_key() == "sk-for-the-other-host"
    assert CLEARED not in admin_client.get(response["Location"]).content.decode()


def test_an_operator_cannot_point_a_stored_key_at_their_host(staff_in, engine):
    engine.set_api_key(SECRET)
    engine.save()
    operator = staff_in("Operators")

    response = post(operator, engine, base_url="https://evil.example/v1")

    assert response.status_code == 302
    engine.refresh_from_db()
    assert not engine.has_stored_key
