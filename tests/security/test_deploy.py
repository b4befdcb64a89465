"""`manage.py check --deploy` is clean under production settings, and Dihya's own checks catch
settings that make no sense."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.test import override_settings

from tests.conftest import ROOT

PRODUCTION = {
    "DIHYA_HTTPS": "true",
    "DIHYA_BEHIND_PROXY": "true",
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "dihya.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://dihya.example.org",
    "DIHYA_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "DIHYA_WEBHOOK_SECRET": secrets.token_urlsafe(32),
    "DIHYA_PSEUDONYM_KEY": secrets.token_urlsafe(32),
    "DIHYA_AUDIT_KEY": secrets.token_urlsafe(32),
}


def production_free(environ: os._Environ[str]) -> dict[str, str]:
    """The test run's environment without what only tests set (browser tests allow the ORM in
    Playwright's event loop, which `check --deploy` rightly flags; the test settings module)."""
    return {k: v for k, v in environ.items()
            if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE")}


def deploy_check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env={**production_free(os.environ), **env}, capture_output=True, text=True,
        timeout=120,
        check=False)


def test_check_deploy_prints_no_warning_under_production_settings():
    done = deploy_check(**PRODUCTION)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout
    assert "WARNING" not in done.stderr.upper()


def test_without_the_https_switch_check_deploy_warns():
    done = deploy_check(**{**PRODUCTION, "DIHYA_HTTPS": "false", "DIHYA_ENCRYPTION_KEY": ""})
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016",
                    "dihya.W001"):
        assert warning in done.stderr, warning


def ids(**kwargs) -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True, **kwargs)}


@override_settings(DIHYA_ENCRYPTION_KEY=f"{Fernet.generate_key().decode()},not-a-key")
def test_it_refuses_an_encryption_key_that_is_not_a_fernet_key():
    assert "dihya.E001" in ids()


@pytest.mark.parametrize("name", ["DIHYA_DENY_PATTERNS", "DIHYA_REDACT_PATTERNS"])
def test_it_refuses_a_pattern_that_is_not_a_regular_expression(name):
    with override_settings(**{name: ["fine", "(unclosed"]}):
        assert "dihya.E002" in ids()


def test_it_warns_when_alerts_would_be_signed_with_the_secret_clients_once_held():
    alerting = {"DIHYA_ALERT_WEBHOOKS": ["https://ops.example.org/hook"],
                "DIHYA_WEBHOOK_SECRET": "s" * 32}
    with override_settings(**alerting, DIHYA_ALERT_WEBHOOK_SECRET=""):
        assert "dihya.W005" in ids()
    with override_settings(**alerting, DIHYA_ALERT_WEBHOOK_SECRET="a" * 32):
        assert "dihya.W005" not in ids()
