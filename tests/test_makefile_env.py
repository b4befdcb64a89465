"""The `.env` that `make run` writes holds every secret production needs, freshly made.

The Makefile's own `.env` recipe runs, with the machine's python3 (no virtualenv needed),
into a temporary directory; then `manage.py check --deploy` on those values must not warn
about a missing or derived secret.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import ROOT

SECRETS = ("SECRET_KEY", "DIHYA_WEBHOOK_SECRET", "DIHYA_PSEUDONYM_KEY", "DIHYA_ENCRYPTION_KEY",
           "DIHYA_AUDIT_KEY", "DIHYA_ALERT_WEBHOOK_SECRET")


def write_env(where: Path) -> dict[str, str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), "-C", str(where), ".env",
                           "PY=python3"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (where / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_make_writes_every_secret_fresh(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = write_env(tmp_path / "a"), write_env(tmp_path / "b")

    for name in SECRETS:
        assert len(first.get(name, "")) >= 32, f"{name} missing or short in .env: {first}"
        assert first[name] != second[name], f"{name} is not fresh"
    assert first["DEBUG"] == "false"
    Fernet(first["DIHYA_ENCRYPTION_KEY"].encode())  # raises unless a valid Fernet key
    mode = stat.S_IMODE((tmp_path / "a" / ".env").stat().st_mode)
    assert mode == 0o600, oct(mode)


def test_its_secrets_satisfy_check_deploy(tmp_path):
    values = write_env(tmp_path)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DIHYA_") and k != "DJANGO_SETTINGS_MODULE"} | values
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'unused.sqlite3'}"
    done = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    for check in ("dihya.E001", "dihya.W001", "dihya.W002", "dihya.W003", "dihya.W004"):
        assert check not in output, output
