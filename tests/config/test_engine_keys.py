"""`config apply` and engine keys: an engine reads only a variable meant for engine keys, and a
stored key does not follow its engine to another host."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dihya import config
from fallbacks.models import Engine


def engines(*lines: str) -> str:
    return "engines:\n" + "".join(f"  - {line}\n" for line in lines)


def engine(base_url: str = "http://127.0.0.1:9001/v1", **extra: str) -> str:
    fields = "".join(f", {k}: {v!r}" for k, v in extra.items())
    return f"{{name: x, provider: openai, base_url: {base_url!r}, model: m{fields}}}"


@pytest.mark.parametrize("variable", ["SECRET_KEY", "DATABASE_URL", "DIHYA_ENCRYPTION_KEY",
                                      "DIHYA_WEBHOOK_SECRET", "DIHYA_PSEUDONYM_KEY", "PATH",
                                      "DIHYA_ENGINE_KEY_", "DIHYA_ENGINE_KEY_VARIABLES"])
def test_it_refuses_a_variable_that_is_not_an_engine_key(db, variable, monkeypatch):
    monkeypatch.setenv(variable, "dihya-own-secret-value")

    with pytest.raises(config.ConfigError) as caught:
        config.apply_yaml(engines(engine("https://evil.example/v1", api_key_env=variable)))

    (problem,) = caught.value.problems
    assert problem.startswith("engines[0].api_key_env: ")
    assert "DIHYA_ENGINE_KEY_" in problem and "DIHYA_ENGINE_KEY_VARIABLES" in problem
    assert "dihya-own-secret-value" not in problem
    assert not Engine.objects.exists()


def test_the_deployer_cannot_list_dihyas_own_secrets(db, settings):
    settings.DIHYA_ENGINE_KEY_VARIABLES = ["SECRET_KEY"]

    with pytest.raises(config.ConfigError, match=r"engines\[0\]\.api_key_env: "):
        config.apply_yaml(engines(engine(api_key_env="SECRET_KEY")))


def test_the_check_refuses_it_too(db, tmp_path):
    path = tmp_path / "dihya.yaml"
    path.write_text(engines(engine(api_key_env="DATABASE_URL")))

    with pytest.raises(CommandError, match=r"engines\[0\]\.api_key_env: "):
        call_command("config", "apply", "--check", str(path))


def test_it_accepts_the_prefix_and_listed_variables(db, settings):
    settings.DIHYA_ENGINE_KEY_VARIABLES = ["MISTRAL_API_KEY"]

    config.apply_yaml(engines(engine(api_key_env="DIHYA_ENGINE_KEY_LOCAL"),
                              engine(api_key_env="MISTRAL_API_KEY").replace("x", "y", 1)))

    assert dict(Engine.objects.values_list("name", "api_key_env")) == {
        "x": "DIHYA_ENGINE_KEY_LOCAL", "y": "MISTRAL_API_KEY"}


@pytest.fixture
def keyed(db) -> Engine:
    config.apply_yaml(engines(engine()))
    made = Engine.objects.get(name="x")
    made.set_api_key("sk-stored-secret")
    made.save()
    return made


@pytest.mark.parametrize("new_url", ["https://evil.example/v1", "http://127.0.0.1:9999/v1",
                                     "https://127.0.0.1:9001/v1"])
@pytest.mark.parametrize("marker", [{}, {"api_key": "stored"}])
def test_a_new_host_clears_the_stored_key(keyed, new_url, marker):
    (change,) = config.apply_yaml(engines(engine(new_url, **marker)))

    keyed.refresh_from_db()
    assert keyed.base_url == new_url and not keyed.has_stored_key
    assert change.before["api_key"] == "stored" and "api_key" not in change.after


@pytest.mark.parametrize("new_url", ["http://127.0.0.1:9001/v2", "HTTP://127.0.0.1:9001/v1"])
def test_the_same_host_keeps_the_stored_key(keyed, new_url):
    config.apply_yaml(engines(engine(new_url)))

    keyed.refresh_from_db()
    assert keyed.base_url == new_url and keyed.api_key() == "sk-stored-secret"


def test_the_default_port_is_the_same_host(db):
    config.apply_yaml(engines(engine("https://api.example.com/v1")))
    made = Engine.objects.get()
    made.set_api_key("sk-stored-secret")
    made.save()

    config.apply_yaml(engines(engine("https://api.example.com:443/v1")))

    made.refresh_from_db()
    assert made.api_key() == "sk-stored-secret"


def test_the_command_says_the_key_was_cleared(keyed, tmp_path, capsys):
    path = tmp_path / "dihya.yaml"
    path.write_text(engines(engine("https://evil.example/v1")))

    call_command("config", "apply", str(path))

    out = capsys.readouterr().out
    assert "updated engine x" in out and "sk-stored-secret" not in out
