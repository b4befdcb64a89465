"""Applying and exporting: the file is the truth for what it names, and nothing else."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dihya import config
from dihya.gateway.models import ApiClient
from fallbacks import catalog
from fallbacks.models import Engine, Route

SAMPLE = """
engines:
  - {name: mixtral, provider: ollama, base_url: "http://127.0.0.1:11434", model: mixtral}
  - {name: mistral, provider: mistral, base_url: "https://api.mistral.ai",
     model: mistral-small-latest, api_key_env: DIHYA_ENGINE_KEY_MISTRAL}
  - {name: llama-local, provider: openai, base_url: "http://127.0.0.1:8081/v1",
     model: smollm2-135m, timeout: {connect: 1.5, read: 20}, notes: local}
routes:
  - {name: default, engines: [mixtral, mistral, llama-local], max_tokens: 64}
clients:
  - {name: app, routes: [default], end_users: true}
"""


@pytest.fixture
def applied(db):
    return config.apply_yaml(SAMPLE)


def test_it_creates_what_the_file_names(applied):
    llama = Engine.objects.get(name="llama-local")
    assert (llama.connect_timeout, llama.read_timeout, llama.total_timeout) == (1.5, 20, 120)
    assert llama.notes == "local"
    spec = catalog.route_spec("default")
    assert [e.name for e in spec.engines] == ["mixtral", "mistral", "llama-local"]
    assert spec.max_tokens == 64
    client = ApiClient.objects.get(name="app")
    assert client.end_users and client.active
    assert [r.name for r in client.routes.all()] == ["default"]
    assert sorted((c.kind, c.name, c.action) for c in applied) == [
        ("client", "app", "created"), ("engine", "llama-local", "created"),
        ("engine", "mistral", "created"), ("engine", "mixtral", "created"),
        ("route", "default", "created")]


def test_it_changes_nothing_when_applied_twice(applied):
    assert config.apply_yaml(SAMPLE) == []


def test_it_round_trips_through_export(applied):
    exported = config.export_yaml()

    assert config.apply_yaml(exported) == []
    assert config.export_yaml() == exported
    assert config.load_yaml(exported)["routes"][0]["engines"] == ["mixtral", "mistral",
                                                                 "llama-local"]


def test_it_returns_before_and_after_of_an_update(applied):
    changed = SAMPLE.replace("[mixtral, mistral, llama-local]", "[llama-local, mixtral]")

    (change,) = config.apply_yaml(changed)

    assert (change.kind, change.name, change.action) == ("route", "default", "updated")
    assert change.before["engines"] == ["mixtral", "mistral", "llama-local"]
    assert change.after["engines"] == ["llama-local", "mixtral"]
    assert [e.name for e in catalog.route_spec("default").engines] == ["llama-local", "mixtral"]


def test_it_sets_omitted_fields_to_their_defaults(applied):
    config.apply_yaml(SAMPLE.replace(", timeout: {connect: 1.5, read: 20}, notes: local", ""))

    llama = Engine.objects.get(name="llama-local")
    assert (llama.connect_timeout, llama.read_timeout, llama.notes) == (2.0, 30.0, "")


def test_it_keeps_a_stored_key_and_never_exports_it(applied):
    engine = Engine.objects.get(name="mixtral")
    engine.set_api_key("sk-very-secret")
    engine.save()

    exported = config.export_yaml()
    assert config.apply_yaml(SAMPLE) == []
    assert config.apply_yaml(exported) == []

    assert "sk-very-secret" not in exported
    assert config.load_yaml(exported)["engines"][2] == {
        "name": "mixtral", "provider": "ollama", "base_url": "http://127.0.0.1:11434",
        "model": "mixtral", "api_key": "stored", "timeout": {"connect": 2.0, "read": 30.0,
                                                              "total": 120.0},
        "enabled": True, "capabilities": ["chat", "tools", "json_schema"],
        "region": "local", "processor": "self_hosted"}
    engine.refresh_from_db()
    assert engine.api_key() == "sk-very-secret"


def test_it_leaves_alone_what_the_file_does_not_name(applied):
    config.apply_yaml("engines:\n  - {name: other, provider: openai, "
                      "base_url: 'http://127.0.0.1:9/v1', model: m}\n")

    assert Engine.objects.count() == 4
    assert Route.objects.filter(name="default").exists()


def test_the_command_applies_and_exports(db, tmp_path, capsys):
    path = tmp_path / "dihya.yaml"
    path.write_text(SAMPLE)

    call_command("config", "apply", str(path))
    assert "created route default" in capsys.readouterr().out
    call_command("config", "apply", str(path))
    assert "no changes" in capsys.readouterr().out
    call_command("config", "export")
    assert config.load_yaml(capsys.readouterr().out)["clients"][0]["name"] == "app"


def test_the_command_reports_an_unreadable_file(db, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("config", "apply", str(tmp_path / "missing.yaml"))


def test_the_command_checks_without_applying(db, tmp_path, capsys):
    path = tmp_path / "dihya.yaml"
    path.write_text(SAMPLE)

    call_command("config", "apply", "--check", str(path))

    assert "valid" in capsys.readouterr().out
    assert not Engine.objects.exists()


def test_a_clients_dropped_fields_apply_and_export_as_a_set(applied):
    dropping = SAMPLE.replace("end_users: true}", "end_users: true, drop_params: [tools, n, n]}")

    (change,) = config.apply_yaml(dropping)

    assert (change.kind, change.name, change.action) == ("client", "app", "updated")
    assert ApiClient.objects.get(name="app").drop_params == ["n", "tools"]
    assert config.load_yaml(config.export_yaml())["clients"][0]["drop_params"] == ["n", "tools"]
    assert config.apply_yaml(dropping.replace("[tools, n, n]", "[n, tools]")) == []
