"""Settings that come from the environment do reach Django."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def setting_in_child(name: str, **env: str) -> str:
    code = ("import django; django.setup(); from django.conf import settings; "
            f"print(settings.{name})")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"DJANGO_SETTINGS_MODULE": "dihya.settings", "DEBUG": "true",
                              "PATH": "/usr/bin:/bin", **env}, check=True)
    return out.stdout.strip()


def test_alert_mail_goes_through_the_smtp_server_named_by_email_url():
    assert setting_in_child("EMAIL_BACKEND", EMAIL_URL="smtp+tls://u:p@mail.example.org:587") \
        == "django.core.mail.backends.smtp.EmailBackend"
    assert setting_in_child("EMAIL_HOST", EMAIL_URL="smtp+tls://u:p@mail.example.org:587") \
        == "mail.example.org"


def test_without_email_url_mail_is_printed_to_the_log():
    assert setting_in_child("EMAIL_BACKEND") == "django.core.mail.backends.console.EmailBackend"


def test_production_settings_do_not_change_when_pytest_is_imported():
    """Whatever a test run needs differently, tests/settings.py says; dihya.settings is the
    same whether or not the test runner is loaded."""
    code = ("import pytest, django; django.setup(); from django.conf import settings; "
            "print(settings.DIHYA_RECORDER, settings.AXES_ENABLED, "
            "settings.PASSWORD_HASHERS[0].rsplit('.', 1)[-1])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"DJANGO_SETTINGS_MODULE": "dihya.settings", "SECRET_KEY": "k" * 50,
                              "PATH": "/usr/bin:/bin"}, check=True)

    assert out.stdout.split() == ["batched", "True", "PBKDF2PasswordHasher"]


def test_the_test_run_records_as_production_does(settings):
    assert settings.DIHYA_RECORDER == "batched"


def test_the_quota_tally_follows_redis_and_refuses_to_run_without_it():
    assert setting_in_child("DIHYA_QUOTA_TALLY", REDIS_URL="") == "False"
    assert setting_in_child("DIHYA_QUOTA_TALLY", REDIS_URL="redis://127.0.0.1:6379/9") == "True"
    assert setting_in_child("DIHYA_QUOTA_TALLY", REDIS_URL="redis://127.0.0.1:6379/9",
                            DIHYA_QUOTA_TALLY="false") == "False"

    refused = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, capture_output=True,
        text=True, env={"DJANGO_SETTINGS_MODULE": "dihya.settings", "DEBUG": "true",
                        "PATH": "/usr/bin:/bin", "REDIS_URL": "", "DIHYA_QUOTA_TALLY": "true"})
    assert refused.returncode != 0 and "DIHYA_QUOTA_TALLY needs REDIS_URL" in refused.stderr
