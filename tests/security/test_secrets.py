"""Secret rotation: `rotate_keys` moves every stored engine key under the new encryption key,
and no secret ever leaves in an export or a command's output."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.test import override_settings

from fallbacks import secrets
from fallbacks.models import Engine

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def keyed(settings):
    """Switches DIHYA_ENCRYPTION_KEY (sealers are cached on the key, nothing to forget)."""

    def use(value: str) -> None:
        settings.DIHYA_ENCRYPTION_KEY = value

    return use


def engine(name: str, key: str) -> Engine:
    made = Engine(name=name, base_url="http://127.0.0.1:1/v1")
    made.set_api_key(key)
    made.save()
    return made


def test_it_reencrypts_every_stored_key_under_the_first_key(db, keyed, capsys):
    keyed(OLD)
    engine("one", "sk-one-secret")
    engine("two", "sk-two-secret")
    Engine.objects.create(name="keyless", base_url="http://127.0.0.1:1/v1")

    keyed(f"{NEW},{OLD}")
    call_command("rotate_keys")
    out = capsys.readouterr().out
    assert "re-sealed 2 engine key(s)" in out and "sk-" not in out

    keyed(NEW)  # the old key is gone: both still decrypt
    assert [e.api_key() for e in Engine.objects.exclude(api_key_encrypted="").order_by("name")] \
        == ["sk-one-secret", "sk-two-secret"]
    keyed(OLD)
    with pytest.raises(secrets.SecretError):
        Engine.objects.get(name="one").api_key()


def test_it_names_the_keys_it_cannot_read_and_fails(db, keyed, capsys):
    keyed(OLD)
    engine("lost", "sk-lost")
    keyed(NEW)
    engine("fine", "sk-fine")
    with pytest.raises(CommandError, match="engine key of lost"):
        call_command("rotate_keys")
    assert Engine.objects.get(name="fine").api_key() == "sk-fine"


def test_a_dry_run_changes_nothing(db, keyed, capsys):
    keyed(OLD)
    stored = engine("one", "sk-one").api_key_encrypted
    keyed(f"{NEW},{OLD}")
    call_command("rotate_keys", "--dry-run")
    assert "would re-seal 1 engine key(s)" in capsys.readouterr().out
    assert Engine.objects.get(name="one").api_key_encrypted == stored


def test_it_moves_secrets_sealed_under_secret_key_to_a_first_encryption_key(db, keyed,
                                                                             capsys):
    keyed("")
    engine("early", "sk-early")
    keyed(NEW)
    call_command("rotate_keys", "--from-secret-key")
    assert "re-sealed 1 engine key(s)" in capsys.readouterr().out

    assert Engine.objects.get(name="early").api_key() == "sk-early"


@override_settings(DIHYA_ENCRYPTION_KEY="")
def test_config_export_never_writes_a_stored_key(db, capsys):
    engine("paid", "sk-live-do-not-leak")
    call_command("config", "export")
    out = capsys.readouterr().out
    assert "paid" in out and "sk-live-do-not-leak" not in out
    assert Engine.objects.get(name="paid").api_key_encrypted not in out


# --- An engine never reads a variable that is not an engine key ------------------------------

OWN_SECRET = "dihya-own-secret-never-sent-0123"


@pytest.fixture
def evil_engine(db, monkeypatch):
    """An engine pointed at a stranger's host, reading SECRET_KEY: a row written before the
    rule existed (or by a raw UPDATE), which no form or file could write today."""
    monkeypatch.setenv("SECRET_KEY", OWN_SECRET)
    made = Engine.objects.create(name="evil", provider="openai",
                                 base_url="http://evil.test/v1", model="m")
    Engine.objects.filter(pk=made.pk).update(api_key_env="SECRET_KEY")
    made.refresh_from_db()
    return made


def test_a_forbidden_variable_is_never_read(evil_engine):
    from fallbacks.models import KeyVariableError

    with pytest.raises(KeyVariableError) as caught:
        evil_engine.api_key()

    assert "SECRET_KEY" in str(caught.value) and "evil" in str(caught.value)
    assert OWN_SECRET not in str(caught.value)


def test_a_forbidden_variable_makes_the_engine_not_configured(evil_engine):
    from fallbacks import catalog

    spec = catalog.engine_spec(evil_engine)

    assert spec.api_key == "" and spec.key_required


def test_a_listed_own_secret_is_still_never_read(evil_engine, settings):
    from fallbacks.models import KeyVariableError

    settings.DIHYA_ENGINE_KEY_VARIABLES = ["SECRET_KEY"]

    with pytest.raises(KeyVariableError):
        evil_engine.api_key()


def test_testing_the_engine_sends_nothing_to_its_host(evil_engine, admin_client):
    import respx
    from django.urls import reverse

    from dihya.gateway.models import Generation
    from dihya.tasks import run_generation  # what the worker runs

    with respx.mock(assert_all_called=False) as mock:
        stranger = mock.route(host="evil.test").respond(200, json={})
        admin_client.post(reverse("admin:engine-test", args=[evil_engine.pk]))
        generation = Generation.objects.get()
        run_generation(str(generation.pk))

    assert not stranger.called
    assert [a.outcome for a in generation.attempts.all()] == ["not_configured"]


def test_the_health_check_sends_nothing_to_its_host(evil_engine):
    import respx

    from fallbacks import health_checks

    with respx.mock(assert_all_called=False) as mock:
        stranger = mock.route(host="evil.test").respond(200, json={"data": []})
        report = health_checks.check_all()

    assert not stranger.called
    assert report["evil"].startswith("not_configured")
    assert OWN_SECRET not in str(report)


def test_a_variable_the_deployer_lists_is_read(db, settings, monkeypatch):
    settings.DIHYA_ENGINE_KEY_VARIABLES = ["MISTRAL_API_KEY"]
    monkeypatch.setenv("MISTRAL_API_KEY", "sk-mistral")
    made = Engine.objects.create(name="mistral", provider="mistral",
                                 base_url="https://api.mistral.ai", model="m",
                                 api_key_env="MISTRAL_API_KEY")

    assert made.api_key() == "sk-mistral"


@pytest.mark.parametrize("listed", [["SECRET_KEY"], ["MISTRAL_API_KEY", "DIHYA_WEBHOOK_SECRET"],
                                    ["not a name"]])
def test_the_system_check_refuses_a_listed_variable_that_cannot_be_an_engine_key(settings,
                                                                                 listed):
    from django.core.checks import run_checks

    settings.DIHYA_ENGINE_KEY_VARIABLES = listed

    errors = [m for m in run_checks() if m.id == "dihya.E003"]

    assert len(errors) == 1 and listed[-1] in errors[0].msg


def test_the_system_check_accepts_engine_key_variables(settings):
    from django.core.checks import run_checks

    settings.DIHYA_ENGINE_KEY_VARIABLES = ["MISTRAL_API_KEY", "OPENAI_API_KEY"]

    assert "dihya.E003" not in {m.id for m in run_checks()}
