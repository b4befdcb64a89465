"""The demo: seeded through config apply, safe to run twice, and a real fallback on request."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dihya import config
from dihya.gateway.models import ApiClient, Generation
from fallbacks import catalog


@pytest.fixture(autouse=True)
def no_superuser_env(monkeypatch):
    for name in ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD",
                 "DIHYA_ENGINE_KEY_MISTRAL"):
        monkeypatch.delenv(name, raising=False)


def run_demo(capsys, *args: str) -> str:
    call_command("demo", *args)
    return capsys.readouterr().out


def test_it_seeds_the_configuration_of_the_issue(db, capsys):
    run_demo(capsys, "--engine-port", "8123", "--embed-port", "8124")

    spec = catalog.route_spec("default")
    assert [(e.name, e.provider, e.base_url, e.model) for e in spec.engines] == [
        ("mixtral", "ollama", "http://127.0.0.1:11434", "mixtral"),
        ("mistral", "mistral", "https://api.mistral.ai", "mistral-small-latest"),
        ("llama-local", "openai", "http://127.0.0.1:8123/v1", "smollm2-135m")]
    assert config.export()["engines"][1]["api_key_env"] == "DIHYA_ENGINE_KEY_MISTRAL"
    embed = catalog.route_spec("embed")
    assert [(e.name, e.base_url, e.model, e.capabilities) for e in embed.engines] == [
        ("smollm2-embed", "http://127.0.0.1:8124/v1", "smollm2-135m-embed",
         frozenset({"embeddings"}))]
    client = ApiClient.objects.get(name="demo-app")
    assert sorted(r.name for r in client.routes.all()) == ["default", "embed"]
    assert not client.keys.exists()


def test_it_is_idempotent(db, capsys):
    first = run_demo(capsys)
    exported = config.export()
    password_hash = get_user_model().objects.get(username="admin").password

    second = run_demo(capsys)

    assert "admin login: admin / " in first
    assert "configuration already in place" in second
    assert "'admin' exists" in second and "changepassword admin" in second
    assert config.export() == exported
    assert get_user_model().objects.get(username="admin").password == password_hash


def test_it_prints_a_random_password_that_logs_in(db, capsys, client):
    out = run_demo(capsys)

    password = out.split("admin login: admin / ")[1].split()[0]
    assert len(password) >= 12
    assert client.login(username="admin", password=password)


def test_it_takes_the_superuser_from_the_environment(db, capsys, monkeypatch, client):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "correct horse battery")

    out = run_demo(capsys)

    assert "correct horse" not in out
    user = get_user_model().objects.get()
    assert user.username == "root" and user.is_superuser and user.is_staff
    assert client.login(username="root", password="correct horse battery")


@pytest.mark.engine
def test_the_first_demo_request_shows_a_real_fallback(db, llama, capsys):
    run_demo(capsys, "--engine-port", str(urlparse(llama).port))

    call_command("generate", "Say hello", "--route", "default", "--inline", "--max-tokens", "16")

    out, err = capsys.readouterr()
    assert out.strip()
    generation = Generation.objects.get()
    assert generation.engine_name == "llama-local"
    assert [(a.engine_name, a.outcome) for a in generation.attempts.all()] == [
        ("mixtral", "connect_error"), ("mistral", "not_configured"), ("llama-local", "ok")]
    assert "not_configured" in err and "connect_error" in err
