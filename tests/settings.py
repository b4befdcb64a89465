"""The test run's settings: the environment a test deployment is given, then the one settings
file, then what only a test run wants.

Production settings (dihya/settings.py) never look at the test runner: whatever a test run
needs differently is said here, so the suite runs what production runs (the batched recorder
included) unless a test pins something else itself. Child processes the tests start (servers,
workers, `manage.py check --deploy`) run the production settings with the environment they
are given (`tests.conftest.child_env`).
"""

from __future__ import annotations

import os
import tempfile

# What a test deployment's environment would hold: a key (no .env needed), and prometheus'
# multiprocess directory of its own, so that two runs never add up each other's samples.
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-never-used-in-production")
# Each pytest-xdist worker its own too (they inherit the controller's environment).
if "PYTEST_XDIST_WORKER" in os.environ or "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="dihya-metrics-")
# Test clients reuse people's ids within a minute, many times over: refusals are not limited
# but where a test says so (tests/people/test_refusal_rate.py).
os.environ.setdefault("DIHYA_CONSENT_REFUSAL_RATE", "1000000")

# Under pytest-xdist (`make test` runs two workers) each worker is a deployment of its own:
# pytest-django gives it its own test database; here it gets its own Redis database (the
# next one down from REDIS_URL's), its own django-q2 queue and so its own cluster. Child
# processes inherit this environment (tests.conftest.child_env).
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, … (none when run alone)
if _worker.startswith("gw"):
    _n = int(_worker[2:])
    os.environ["DIHYA_Q_NAME"] = f"{os.environ.get('DIHYA_Q_NAME', 'dihya')}-{_worker}"
    _base, _, _db = os.environ.get("REDIS_URL", "").rpartition("/")
    if _n and _db.isdigit():  # redis://host:port/15 → /14 for gw1
        os.environ["REDIS_URL"] = f"{_base}/{(int(_db) - _n) % 16}"

from dihya.settings import *  # noqa: E402, F403

# Hashing real passwords dominates a test run; tests need no real strength.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Pages render without `collectstatic` first (production serves hashed, compressed names).
STORAGES = {**STORAGES,  # noqa: F405
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Tests sign in without a request (force_login, client.login); the lockout tests turn it on.
AXES_ENABLED = False
