"""Each kind of secret is sealed under a key of its own, and old rows move to it."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.db import connection

from dihya.gateway.models import ApiClient
from dihya.lib import sealing
from fallbacks.models import Engine

KEY = Fernet.generate_key().decode()
SECRET_KEY = "a-secret-key-for-this-test-only-0123456789"


@pytest.mark.parametrize("keys", [KEY, ""], ids=["encryption key", "derived from SECRET_KEY"])
def test_it_does_not_open_a_secret_sealed_for_another_purpose(keys):
    engine_keys = sealing.sealer(sealing.ENGINE_KEYS, keys, SECRET_KEY)
    signing = sealing.sealer(sealing.SIGNING_SECRETS, keys, SECRET_KEY)
    token = engine_keys.seal("sk-engine")

    assert engine_keys.open(token) == "sk-engine"
    with pytest.raises(sealing.SealError):
        signing.open(token)


def test_an_engine_key_copied_into_a_signing_secret_does_not_open(db, settings):
    settings.DIHYA_ENCRYPTION_KEY = KEY
    engine = Engine(name="paid", base_url="http://127.0.0.1:1/v1")
    engine.set_api_key("sk-paid")
    client = ApiClient.objects.create(name="billing")

    client.signing_secret = engine.api_key_encrypted

    with pytest.raises(sealing.SealError):
        client.signing_key()


def test_neither_purpose_uses_the_shared_key_of_before():
    token = sealing.sealer(sealing.SIGNING_SECRETS, KEY, SECRET_KEY).seal("whsec_x")

    with pytest.raises(sealing.SealError):
        sealing.legacy_sealer(KEY, SECRET_KEY).open(token)


def test_it_refuses_an_unknown_purpose():
    with pytest.raises(ValueError, match="purpose"):
        sealing.sealer("cookies", KEY, SECRET_KEY)


def run_migration(app: str, name: str, backwards: bool = False) -> None:
    module = importlib.import_module(f"{app}.migrations.{name}")
    operation = module.Migration.operations[0]
    code = operation.reverse_code if backwards else operation.code
    code(apps, SimpleNamespace(connection=connection))


@pytest.mark.parametrize("keys", [f"{KEY}", ""], ids=["encryption key", "derived"])
def test_the_migrations_reseal_old_rows_under_their_purpose(db, settings, keys):
    settings.DIHYA_ENCRYPTION_KEY = keys
    shared = sealing.legacy_sealer(keys, settings.SECRET_KEY)
    engine = Engine.objects.create(name="paid", base_url="http://127.0.0.1:1/v1",
                                   api_key_encrypted=shared.seal("sk-paid"))
    client = ApiClient.objects.create(name="billing")
    ApiClient.objects.filter(pk=client.pk).update(signing_secret=shared.seal("whsec_old"))
    lost = ApiClient.objects.create(name="lost")
    ApiClient.objects.filter(pk=lost.pk).update(signing_secret="not-a-token")

    run_migration("fallbacks", "0009_reseal_engine_keys")
    run_migration("dihya.gateway", "0017_reseal_signing_secrets")

    engine.refresh_from_db()
    client.refresh_from_db()
    assert engine.api_key() == "sk-paid" and client.signing_key() == "whsec_old"
    with pytest.raises(sealing.SealError):
        shared.open(engine.api_key_encrypted)
    assert ApiClient.objects.get(name="lost").signing_secret == "not-a-token"

    run_migration("fallbacks", "0009_reseal_engine_keys", backwards=True)
    engine.refresh_from_db()
    assert shared.open(engine.api_key_encrypted) == "sk-paid"
