"""The demo: seeded through config apply, safe to run twice — a restart keeps whatever an admin
changed — and a real fallback on request."""

from __future__ import annotations

import stat
from urllib.parse import urlparse

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dihya import config
from dihya.gateway.models import ApiClient, Generation
from fallbacks import catalog
from fallbacks.models import Engine, Route, RouteEngine
from quotas.models import Assignment, Limit, Plan


@pytest.fixture(autouse=True)
def no_superuser_env(monkeypatch):
    for name in ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD",
                 "DIHYA_ENGINE_KEY_MISTRAL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def password_file(settings, tmp_path):
    settings.DIHYA_ADMIN_PASSWORD_FILE = str(tmp_path / "var" / "admin-password.txt")
    return tmp_path / "var" / "admin-password.txt"


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


def test_it_keeps_what_an_admin_changed_when_run_again(db, capsys):
    run_demo(capsys)
    # What an admin did in the console after the first start.
    mine = Engine.objects.create(name="my-engine", provider="openai",
                                 base_url="http://127.0.0.1:9/v1", model="m")
    route = Route.objects.get(name="default")
    positions = {"llama-local": 5, "my-engine": 6, "mixtral": 7}  # mistral removed
    RouteEngine.objects.filter(route=route, engine__name="mistral").delete()
    RouteEngine.objects.create(route=route, engine=mine, position=0)
    for name, position in positions.items():
        RouteEngine.objects.filter(route=route, engine__name=name).update(position=position)
    route.description = "ours now"
    route.save()
    Engine.objects.filter(name="mixtral").update(model="mixtral:8x22b")
    client = ApiClient.objects.get(name="demo-app")
    client.end_users = True
    client.save()
    client.routes.remove(Route.objects.get(name="embed"))
    plan = Plan.objects.create(name="five-a-minute")
    Limit.objects.create(plan=plan, metric="requests", period="minute", amount=5)
    Assignment.objects.create(plan=plan, client=client)
    Plan.objects.filter(pk=plan.pk).update(alerts=[50])
    exported = config.export()

    second = run_demo(capsys, "--engine-port", "8081")

    assert config.export() == exported
    assert [s.engine.name for s in route.steps.order_by("position")] == \
        ["llama-local", "my-engine", "mixtral"]
    client.refresh_from_db()
    assert client.end_users and client.quota_assignment.plan.name == "five-a-minute"
    assert list(Limit.objects.values_list("plan__name", "amount")) == [("five-a-minute", 5)]
    assert "configuration already in place" in second


def test_it_creates_only_what_is_missing(db, capsys):
    run_demo(capsys)
    Route.objects.filter(name="embed").delete()
    Engine.objects.filter(name="llama-local").update(read_timeout=99.0)
    before = {e["name"]: e for e in config.export()["engines"]}

    out = run_demo(capsys)

    assert "demo: created route embed" in out
    assert [s.engine.name for s in Route.objects.get(name="embed").steps.all()] == \
        ["smollm2-embed"]
    assert {e["name"]: e for e in config.export()["engines"]} == before
    assert "updated" not in out and "deleted" not in out


def test_it_says_when_a_kept_local_engine_points_elsewhere(db, capsys):
    run_demo(capsys, "--engine-port", "8123")

    out = run_demo(capsys, "--engine-port", "8555")

    assert Engine.objects.get(name="llama-local").base_url == "http://127.0.0.1:8123/v1"
    assert "engine llama-local kept at http://127.0.0.1:8123/v1" in out
    assert "http://127.0.0.1:8555/v1" in out


def test_it_keeps_the_new_password_for_the_banner_until_it_is_changed(db, capsys,
                                                                      password_file):
    out = run_demo(capsys)

    password = out.split("admin login: admin / ")[1].split()[0]
    assert password_file.read_text() == f"admin / {password}\n"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    run_demo(capsys)
    assert password_file.exists()  # still the password: still shown

    admin = get_user_model().objects.get(username="admin")
    admin.set_password("something else entirely")
    admin.save()
    out = run_demo(capsys)

    assert not password_file.exists()
    assert "the password was changed" in out


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
