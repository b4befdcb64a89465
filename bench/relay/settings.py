"""The relay's Django settings: nothing but what an async view needs to run."""

import os

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-relay-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.relay.app"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
USE_I18N = False
LOGGING_CONFIG = None
