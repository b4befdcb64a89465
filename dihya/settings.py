"""Dihya's one settings file.

Everything that differs between a laptop and a production cluster comes from the
environment (or a `.env` file beside `manage.py`), read once here through
django-environ. Defaults give the embedded setup: SQLite and django-q2's ORM broker.
Setting `DATABASE_URL` and `REDIS_URL` gives the scale-out setup: PostgreSQL, the
Redis broker and a shared Redis cache.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise environ.ImproperlyConfigured(
            "SECRET_KEY is not set. `make run` writes one into .env; in production set it "
            "in the environment."
        )
    SECRET_KEY = "insecure-dev-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "dihya.console.admin_apps.DihyaAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_q",
    "adminsortable2",
    "ninja",  # serves Swagger UI's files from static/ (not a CDN): see the CSP below
    "csp",
    "axes",
    "fallbacks",
    "quotas",
    "audit",
    "dihya.gateway",
    "dihya.privacy",
    "dihya.batches",
    "dihya.console",
    "dihya.observability",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "dihya.api.not_found.ApiErrorShape",  # 404/405 on API paths in OpenAI's error shape
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dihya.config.recorder.ActorMiddleware",  # who made a configuration change
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "dihya.privacy.ratelimit.PrivacyRateLimit",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]
# API calls (/v1/, /api/v1/ but its docs) skip the console's middleware: see dihya/lanes.py.
DIHYA_API_MIDDLEWARE = ["dihya.observability.views.Overhead",  # X-Dihya-Overhead-Ms
                        "dihya.lanes.Security",  # Django's, without its thread hops
                        "dihya.api.not_found.ApiErrorShape"]

ROOT_URLCONF = "dihya.urls"
ASGI_APPLICATION = "dihya.asgi.application"
WSGI_APPLICATION = "dihya.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'dihya.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web processes and workers write at once: WAL lets readers go on while one writes, and
    # IMMEDIATE transactions take the write lock up front instead of failing half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # A file, not memory, so that a live server and a qcluster in other processes share it.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("DIHYA_TEST_DB", default=str(BASE_DIR / "var" / "test-dihya.sqlite3"))
    }
else:
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# Connections are kept (both databases): the API's database work runs on a few long-lived
# threads per process (dihya.generation.hops, DIHYA_DB_THREADS), which hold at most that many.
# Reopening a SQLite connection per request cost ~15 % of a request's CPU (docs/benchmarks.md).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DIHYA_DB_THREADS = env.int("DIHYA_DB_THREADS", default=4)

# How the end of an API call is written (dihya.generation.recorder): "batched" hands it to one
# writer thread per process, which writes the generations that ended meanwhile in one
# transaction (at most DIHYA_RECORD_BATCH_MAX each), after the answer has left; "inline" writes
# it on the request's path before answering. DIHYA_RECORD_BATCH_MS waits that long
# after a batch's first run before writing it; 0 (the default) writes at once what has come,
# and what ends during that write makes the next batch: under load the batches grow by
# themselves, and a quiet process does not write in the middle of its next call (measured in
# docs/benchmarks-notes.md: a 5 ms window doubled the latency at concurrency 1).
DIHYA_RECORDER = env.str("DIHYA_RECORDER", default="batched")
if DIHYA_RECORDER not in ("batched", "inline"):
    raise environ.ImproperlyConfigured("DIHYA_RECORDER must be 'batched' or 'inline'")
DIHYA_RECORD_BATCH_MS = env.float("DIHYA_RECORD_BATCH_MS", default=0.0)
DIHYA_RECORD_BATCH_MAX = env.int("DIHYA_RECORD_BATCH_MAX", default=200)
if DIHYA_RECORD_BATCH_MS < 0 or DIHYA_RECORD_BATCH_MAX < 1:
    raise environ.ImproperlyConfigured(
        "DIHYA_RECORD_BATCH_MS must be >= 0 and DIHYA_RECORD_BATCH_MAX >= 1")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and task queue --------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL, "KEY_PREFIX": "dihya"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Quota counters of open windows kept in Redis, checked and charged by one script per call
# (quotas/tally.py); the database stays the truth. On by default with Redis.
DIHYA_QUOTA_TALLY = env.bool("DIHYA_QUOTA_TALLY", default=bool(REDIS_URL))
if DIHYA_QUOTA_TALLY and not REDIS_URL:
    raise environ.ImproperlyConfigured("DIHYA_QUOTA_TALLY needs REDIS_URL")

# A generation never runs longer than DIHYA_JOB_DEADLINE; django-q2's timeout sits above it
# and its retry above that, so a task is only re-delivered once its worker is surely gone.
DIHYA_JOB_DEADLINE = env.float("DIHYA_JOB_DEADLINE", default=120.0)
# How long judging one answer against a client's json_schema may take (in a thread, off the
# event loop): past it the attempt fails as invalid output (fallbacks/structured.py).
DIHYA_SCHEMA_VALIDATION_SECONDS = env.float("DIHYA_SCHEMA_VALIDATION_SECONDS", default=2.0)
if not 0 < DIHYA_SCHEMA_VALIDATION_SECONDS <= 60:
    raise environ.ImproperlyConfigured("DIHYA_SCHEMA_VALIDATION_SECONDS must be in (0, 60]")
Q_CLUSTER: dict[str, object] = {
    "name": env.str("DIHYA_Q_NAME", default="dihya"),
    "workers": env.int("DIHYA_WORKERS", default=2),
    "timeout": int(DIHYA_JOB_DEADLINE) + 30,
    "retry": int(DIHYA_JOB_DEADLINE) + 60,
    "max_attempts": 3,
    "ack_failures": True,
    "save_limit": 500,
    "catch_up": False,
    "poll": env.float("DIHYA_Q_POLL", default=0.2),
    "label": "Task queue",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
# django-q2's broker of that kind, whose pusher waits out an outage rather than pausing ten
# seconds per failure (dihya.gateway.brokers).
Q_CLUSTER["broker_class"] = f"dihya.gateway.brokers.{'Redis' if REDIS_URL else 'ORM'}"

# --- Auth, i18n, static ----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
# django-axes must come first: it refuses a locked-out username+address before any password
# is checked (see the Security section below).
# Sign-in with the organisation's identity provider (OpenID Connect, dihya/console/sso.py):
# on when DIHYA_OIDC_ISSUER is set (its /.well-known/openid-configuration is read on first use).
DIHYA_OIDC_ISSUER = env.str("DIHYA_OIDC_ISSUER", default="").rstrip("/")
DIHYA_OIDC_CLIENT_ID = env.str("DIHYA_OIDC_CLIENT_ID", default="")
DIHYA_OIDC_CLIENT_SECRET = env.str("DIHYA_OIDC_CLIENT_SECRET", default="")
DIHYA_OIDC_SCOPES = env.str("DIHYA_OIDC_SCOPES", default="openid email profile")
# The claim whose values give roles: a value that names a Dihya group (Operators, Auditors)
# gives it; DIHYA_OIDC_ROLES_MAP maps other names (llm-admins=Operators,dpo=Auditors); a value
# equal to DIHYA_OIDC_SUPERUSER_ROLE makes a superuser (none when empty).
DIHYA_OIDC_ROLES_CLAIM = env.str("DIHYA_OIDC_ROLES_CLAIM", default="groups")
DIHYA_OIDC_ROLES_MAP: dict[str, str] = env.dict("DIHYA_OIDC_ROLES_MAP", default={})
DIHYA_OIDC_SUPERUSER_ROLE = env.str("DIHYA_OIDC_SUPERUSER_ROLE", default="")
# Password sign-in for everyone (True), or for superusers only (False: the bootstrap admin;
# everyone else signs in with the identity provider).
DIHYA_PASSWORD_SIGN_IN = env.bool("DIHYA_PASSWORD_SIGN_IN", default=True)
# Where `manage.py demo` keeps the random admin password it created (mode 0600), for the start
# banner to show it again; removed once the password is changed. scripts/run-all.sh reads it.
DIHYA_ADMIN_PASSWORD_FILE = env.str("DIHYA_ADMIN_PASSWORD_FILE",
                                    default=str(BASE_DIR / "var" / "admin-password.txt"))
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "dihya.console.sso.PasswordBackend",
    "dihya.console.sso.OrganisationBackend",
]
# What mozilla-django-oidc reads from settings itself; the endpoints come from discovery.
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
OIDC_TIMEOUT = 10
LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/?sso=failed"
OIDC_AUTHENTICATE_CLASS = "dihya.console.sso.SignIn"
OIDC_CALLBACK_CLASS = "dihya.console.sso.Callback"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Times to the second in the console (Django's locales stop at the minute): dihya/formats/.
FORMAT_MODULE_PATH = ["dihya.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed names in production; DEBUG needs no collectstatic first.
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
                    if DEBUG
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Dihya -----------------------------------------------------------------------------------
# Key for engine credentials stored in the database (Fernet). Falls back to a key derived from
# SECRET_KEY so the embedded setup works; production sets its own (see README, Security).
DIHYA_ENCRYPTION_KEY = env.str("DIHYA_ENCRYPTION_KEY", default="")
# Environment variables an engine may read its key from (an engine's "API key variable"),
# besides any whose name starts with DIHYA_ENGINE_KEY_, e.g. MISTRAL_API_KEY. Dihya's own
# (SECRET_KEY, DATABASE_URL, DIHYA_*...) are refused even if listed (fallbacks.models).
DIHYA_ENGINE_KEY_VARIABLES = env.list("DIHYA_ENGINE_KEY_VARIABLES", default=[])
# Key of the pseudonyms that stand for end users in counters and the audit log (HMAC-SHA256).
# Changing it makes old pseudonyms unlinkable to people: only with a reason (see README).
DIHYA_PSEUDONYM_KEY = env.str("DIHYA_PSEUDONYM_KEY", default="")
# Outbound notifications are signed (HMAC-SHA256) and refused towards private or loopback
# addresses unless explicitly allowed (dihya.lib.outbound). Job callbacks: with their client's
# own secret (admin: API clients, rotate). Quota alert webhooks: with the operator's
# DIHYA_ALERT_WEBHOOK_SECRET, or DIHYA_WEBHOOK_SECRET where unset. DIHYA_WEBHOOK_SECRET, which
# signed everything before, still signs the callbacks of clients with no secret of their own.
DIHYA_ALERT_WEBHOOK_SECRET = env.str("DIHYA_ALERT_WEBHOOK_SECRET", default="")
DIHYA_WEBHOOK_SECRET = env.str("DIHYA_WEBHOOK_SECRET", default="")
DIHYA_ALLOW_PRIVATE_WEBHOOKS = env.bool("DIHYA_ALLOW_PRIVATE_WEBHOOKS", default=False)
# Image URLs (`image_url` parts) engines would fetch from their own network
# (dihya.generation.images): `public` refuses those naming or resolving to loopback, private,
# link-local, metadata or special-purpose addresses; `none` takes data URLs only; `any`
# checks nothing (unsafe: an engine may be made to read its own network).
DIHYA_IMAGE_URLS = env.str("DIHYA_IMAGE_URLS", default="public")
if DIHYA_IMAGE_URLS not in ("public", "none", "any"):
    raise environ.ImproperlyConfigured("DIHYA_IMAGE_URLS must be public, none or any")
# How many django-q2 workers may be sending notifications at once (dihya.gateway.deliveries):
# by default all but one, so slow receivers never hold every worker away from generation jobs.
DIHYA_DELIVERY_SLOTS = env.int("DIHYA_DELIVERY_SLOTS",
                               default=max(1, int(Q_CLUSTER["workers"]) - 1))  # type: ignore[call-overload]
# How e-mail leaves (alerts): EMAIL_URL like smtp+tls://user:password@host:587. The default
# prints mails to the worker's log, so the embedded setup shows alerts without a mail server.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="dihya@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where quota alerts go (quotas.alerts): email recipients, and webhook URLs (signed as above).
DIHYA_ALERT_EMAILS = env.list("DIHYA_ALERT_EMAILS", default=[])
DIHYA_ALERT_WEBHOOKS = env.list("DIHYA_ALERT_WEBHOOKS", default=[])
# Consent and audit (audit/, dihya/privacy/). Where people give consent, as told to clients in
# `consent_required` errors: absolute when set (e.g. https://dihya.example.org), else a path.
DIHYA_PUBLIC_URL = env.str("DIHYA_PUBLIC_URL", default="")
# Who is responsible for people's data here (GDPR art. 13), named on every people-facing page:
# the organisation (controller), how to reach it, its data-protection officer, its policy.
DIHYA_CONTROLLER_NAME = env.str("DIHYA_CONTROLLER_NAME", default="")
DIHYA_CONTROLLER_CONTACT = env.str("DIHYA_CONTROLLER_CONTACT", default="")
DIHYA_DPO_CONTACT = env.str("DIHYA_DPO_CONTACT", default="")
DIHYA_PRIVACY_POLICY_URL = env.str("DIHYA_PRIVACY_POLICY_URL", default="")
# Days a personal consent link (in `consent_required`, or from POST /api/v1/consent-links)
# stays valid; it is spent by the person's answer.
DIHYA_CONSENT_LINK_DAYS = env.int("DIHYA_CONSENT_LINK_DAYS", default=7)
if DIHYA_CONSENT_LINK_DAYS < 1:
    raise environ.ImproperlyConfigured("DIHYA_CONSENT_LINK_DAYS must be at least 1")
# How long the privacy session a consent link opens lasts, in seconds (no password: short).
# Calls of one client refused for consent per minute (each writes audit events, maybe a
# link); past it, 429 too_many_consent_refusals (dihya.generation.gates.consent). The test
# run, whose clients share ids and a cache, raises it (tests/settings.py).
DIHYA_CONSENT_REFUSAL_RATE = env.int("DIHYA_CONSENT_REFUSAL_RATE", default=120)
if DIHYA_CONSENT_REFUSAL_RATE < 1:
    raise environ.ImproperlyConfigured("DIHYA_CONSENT_REFUSAL_RATE must be at least 1")
DIHYA_CONSENT_LINK_SESSION_SECONDS = env.int("DIHYA_CONSENT_LINK_SESSION_SECONDS", default=3600)
# Keep redacted prompts and answers in audit events (for the retention period only)?
DIHYA_AUDIT_CONTENT = env.bool("DIHYA_AUDIT_CONTENT", default=False)
# Key of the audit log's hash chain (HMAC-SHA256), held outside the database so that someone
# who can only write to the database cannot rewrite the chain (docs/security.md). Falls back
# to a key derived from SECRET_KEY; once events exist, changing it breaks `audit verify`.
DIHYA_AUDIT_KEY = env.str("DIHYA_AUDIT_KEY", default="")
# Extra regular expressions redacted from audit text, e.g. employee numbers.
DIHYA_REDACT_PATTERNS = env.list("DIHYA_REDACT_PATTERNS", default=[])
# Days each kind of record is kept (None: forever); applied daily by django-q2 and by
# `manage.py purge --retention`. Consent records are proof and are not purged.
DIHYA_RETENTION_DAYS: dict[str, int | None] = {
    "generation": env.int("DIHYA_RETAIN_GENERATIONS_DAYS", default=90),
    "task": env.int("DIHYA_RETAIN_TASKS_DAYS", default=7),
    "audit": env.int("DIHYA_RETAIN_AUDIT_DAYS", default=365),
    # django-axes' sign-in records (username, IP address, browser): long enough to see attacks.
    "sign_in": env.int("DIHYA_RETAIN_SIGN_IN_DAYS", default=30),
    # Stored Responses API answers (`previous_response_id`, GET /v1/responses/{id}).
    "response": env.int("DIHYA_RESPONSES_RETENTION_DAYS", default=30),
    # Batches, their lines (prompts and answers) and their files, counted from creation.
    "batch": env.int("DIHYA_BATCH_RETENTION_DAYS", default=30),
}
# A high-risk AI system under the EU AI Act (Art. 6) keeps its logs at least six months
# (Art. 19, 26(6)): with it, `manage.py check` warns when audit retention is shorter
# (dihya.checks, dihya.W030). Whether a use is high-risk is the organisation's call.
DIHYA_HIGH_RISK = env.bool("DIHYA_HIGH_RISK", default=False)
# Lawful egress (docs/security.md): personal data masked before it leaves for an engine
# with `mask` on, detected by Presidio with spaCy's models for these languages (installed,
# never downloaded: fr is fr_core_news_sm) and these entity types. Detection that fails or
# takes longer than DIHYA_MASK_TIMEOUT seconds stops the call to that engine (fails closed).
DIHYA_MASK_LANGUAGES = env.list("DIHYA_MASK_LANGUAGES", default=["fr"])
DIHYA_MASK_ENTITIES = env.list("DIHYA_MASK_ENTITIES", default=[
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "IBAN_CODE", "CREDIT_CARD", "IP_ADDRESS"])
DIHYA_MASK_TIMEOUT = env.float("DIHYA_MASK_TIMEOUT", default=5.0)
if DIHYA_MASK_TIMEOUT <= 0:
    raise environ.ImproperlyConfigured("DIHYA_MASK_TIMEOUT must be positive")
# Who answers for the processing, as the record of processing (GDPR Art. 30) names them.
DIHYA_CONTROLLER_NAME = env.str("DIHYA_CONTROLLER_NAME", default="")
DIHYA_CONTROLLER_CONTACT = env.str("DIHYA_CONTROLLER_CONTACT", default="")
DIHYA_DPO_CONTACT = env.str("DIHYA_DPO_CONTACT", default="")
LOGIN_REDIRECT_URL = "/privacy/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# max_tokens for a request that sets none (never above its route's ceiling), and the ceiling of
# a route that sets none: out of the box what coding agents send (Claude Code 2.1 asks 128,000
# for its default models, 64,000 on its non-streamed retry, 32,000 for older names).
# Quotas reserve a call's max_tokens until it is settled to its real use (docs/clients.md).
DIHYA_DEFAULT_MAX_TOKENS = env.int("DIHYA_DEFAULT_MAX_TOKENS", default=4096)
DIHYA_MAX_TOKENS_CEILING = env.int("DIHYA_MAX_TOKENS_CEILING", default=131072)
# Largest request body the API parses, in bytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DIHYA_MAX_BODY_BYTES", default=1_000_000)
# How long a web process remembers a verified API key (revocation still acts at once: see
# dihya/gateway/keys.py).
DIHYA_KEY_CACHE_SECONDS = env.float("DIHYA_KEY_CACHE_SECONDS", default=5.0)
# Long-polls (`GET /api/v1/generations/{id}?wait=`) one key may hold at a time in one web
# process; one more is answered 429 too_many_waits (dihya/api/jobs.py).
DIHYA_MAX_WAITS_PER_KEY = env.int("DIHYA_MAX_WAITS_PER_KEY", default=8)
# How long a process may reuse which quota plans apply to a client or person without a new
# plans stamp (edits in the same process, or in any process with Redis, apply at once;
# counters are never cached: quotas/plans.py).
DIHYA_PLAN_CACHE_SECONDS = env.float("DIHYA_PLAN_CACHE_SECONDS", default=5.0)
# How long a process may reuse a route's snapshot without a new route stamp (edits in the same
# process, or in any process with Redis, apply at once: fallbacks/catalog.py).
DIHYA_ROUTE_CACHE_SECONDS = env.float("DIHYA_ROUTE_CACHE_SECONDS", default=5.0)
# The same for who a `user` is and whether they consent (dihya/generation/identity.py).
DIHYA_PEOPLE_CACHE_SECONDS = env.float("DIHYA_PEOPLE_CACHE_SECONDS", default=5.0)
# Circuit breakers (fallbacks.breaker): open after N consecutive failures, probe after the
# cooldown; each process re-reads the shared state at most every REFRESH seconds.
DIHYA_BREAKER_FAILURES = env.int("DIHYA_BREAKER_FAILURES", default=3)
DIHYA_BREAKER_COOLDOWN = env.float("DIHYA_BREAKER_COOLDOWN", default=10.0)
DIHYA_BREAKER_REFRESH = env.float("DIHYA_BREAKER_REFRESH", default=0.5)
# Routing strategies (fallbacks.strategies): least_busy re-reads requests in flight at most
# every LOAD_REFRESH seconds; lowest_latency's averages (fallbacks.latency) fold each sample
# with weight ALPHA, are shared at most every LATENCY_REFRESH seconds, and a share EXPLORE
# of requests tries a random engine first so that a recovered engine is measured again.
DIHYA_LOAD_REFRESH = env.float("DIHYA_LOAD_REFRESH", default=0.5)
DIHYA_LATENCY_ALPHA = env.float("DIHYA_LATENCY_ALPHA", default=0.3)
DIHYA_LATENCY_REFRESH = env.float("DIHYA_LATENCY_REFRESH", default=2.0)
DIHYA_LATENCY_EXPLORE = env.float("DIHYA_LATENCY_EXPLORE", default=0.05)
# Cooldown of an engine out of quota when its provider gives no reset time.
DIHYA_QUOTA_COOLDOWN = env.float("DIHYA_QUOTA_COOLDOWN", default=60.0)
# The reaper (dihya.generation.reaper): a job running this long past DIHYA_JOB_DEADLINE is
# re-queued,
# at most MAX_DELIVERIES pick-ups; a job queued this long is handed to django-q2 again.
DIHYA_REAP_GRACE = env.float("DIHYA_REAP_GRACE", default=30.0)
DIHYA_MAX_DELIVERIES = env.int("DIHYA_MAX_DELIVERIES", default=3)
DIHYA_REAP_QUEUED_AFTER = env.float("DIHYA_REAP_QUEUED_AFTER", default=300.0)
# Before the reaper: a task the broker refused (Redis down) is tried again by its process every
# DIHYA_BROKER_RETRY seconds and sent as soon as the broker answers (dihya.gateway.broker); a
# worker whose database connection dies mid-job tries each step again on a new connection for
# up to DIHYA_DB_RETRY seconds (dihya.generation.reconnect) before leaving it to the reaper.
DIHYA_BROKER_RETRY = env.float("DIHYA_BROKER_RETRY", default=1.0)
DIHYA_DB_RETRY = env.float("DIHYA_DB_RETRY", default=15.0)
if DIHYA_BROKER_RETRY <= 0 or DIHYA_DB_RETRY < 0:
    raise environ.ImproperlyConfigured(
        "DIHYA_BROKER_RETRY must be above 0 and DIHYA_DB_RETRY at least 0")
# Connections a web process may hold to engines at once (fallbacks.http): one per call in
# flight, so the most calls and streams it can serve at once.
DIHYA_ENGINE_CONNECTIONS = env.int("DIHYA_ENGINE_CONNECTIONS", default=1000)
if DIHYA_ENGINE_CONNECTIONS < 1:
    raise environ.ImproperlyConfigured("DIHYA_ENGINE_CONNECTIONS must be at least 1")
# A stream longer than the deadline says it is alive this often, so that the reaper waits for
# it (must be shorter than DIHYA_JOB_DEADLINE + DIHYA_REAP_GRACE: a system check says so).
DIHYA_STREAM_HEARTBEAT = env.float("DIHYA_STREAM_HEARTBEAT", default=15.0)
# Batches (dihya.batches): the largest input file (bytes) and its most lines; how many lines
# of one client's batches may be in the workers' queue at once (its fair share); and how many
# queued jobs (the jobs API) make the scheduler hold batch lines back, so that jobs go first.
DIHYA_FILE_MAX_BYTES = env.int("DIHYA_FILE_MAX_BYTES", default=20_000_000)
DIHYA_BATCH_MAX_LINES = env.int("DIHYA_BATCH_MAX_LINES", default=50_000)
DIHYA_BATCH_INFLIGHT_PER_CLIENT = env.int("DIHYA_BATCH_INFLIGHT_PER_CLIENT", default=4)
DIHYA_BATCH_JOBS_AHEAD = env.int("DIHYA_BATCH_JOBS_AHEAD",
                                 default=int(Q_CLUSTER["workers"]))  # type: ignore[call-overload]

# --- Security (docs/security.md) -------------------------------------------------------------
# One switch for a deployment served over HTTPS. Off by default because `make run` serves
# plain http on 127.0.0.1, where secure cookies would never come back and log-in would fail.
DIHYA_HTTPS = env.bool("DIHYA_HTTPS", default=False)
# Behind a reverse proxy that terminates TLS and sets X-Forwarded-Proto (only then: a client
# could otherwise claim https itself).
DIHYA_BEHIND_PROXY = env.bool("DIHYA_BEHIND_PROXY", default=False)
SECURE_SSL_REDIRECT = DIHYA_HTTPS
SECURE_HSTS_SECONDS = env.int("DIHYA_HSTS_SECONDS", default=31_536_000) if DIHYA_HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = DIHYA_HTTPS
SECURE_HSTS_PRELOAD = DIHYA_HTTPS and env.bool("DIHYA_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = DIHYA_HTTPS
CSRF_COOKIE_SECURE = DIHYA_HTTPS
if DIHYA_BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # no script reads it: the admin's and sortable2's use the form field
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Every page's scripts and styles come from our own static files (Chart.js, Swagger UI and
# django-admin-sortable2 included): no inline script, no CDN. Inline *style attributes* are
# allowed (the admin and the dashboard's bars set widths with them); style elements are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Brute force on the admin's and people's sign-in (django-axes): N failures for one username
# from one address lock that pair out for the cool-off; a success resets the count.
AXES_ENABLED = env.bool("DIHYA_AXES", default=True)
AXES_FAILURE_LIMIT = env.int("DIHYA_LOGIN_FAILURES", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("DIHYA_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Requests per person per hour on each privacy action (grant, withdraw, export, erase).
DIHYA_PRIVACY_RATE = env.int("DIHYA_PRIVACY_RATE", default=30)
# Request bodies (dihya.generation.requests): limits on messages and characters, and regular
# expressions
# refused anywhere in a message (400 invalid_request naming the message).
DIHYA_MAX_MESSAGES = env.int("DIHYA_MAX_MESSAGES", default=200)
DIHYA_MAX_MESSAGE_CHARS = env.int("DIHYA_MAX_MESSAGE_CHARS", default=100_000)
DIHYA_MAX_TOTAL_CHARS = env.int("DIHYA_MAX_TOTAL_CHARS", default=400_000)
DIHYA_DENY_PATTERNS = env.list("DIHYA_DENY_PATTERNS", default=[])
# Inputs one /v1/embeddings call may carry (OpenAI's limit); each is held to the message
# limit and all of them to the total, like messages.
DIHYA_MAX_EMBEDDING_INPUTS = env.int("DIHYA_MAX_EMBEDDING_INPUTS", default=2048)
# Largest image (decoded data URL) or audio clip a message may carry; the body limit
# (DIHYA_MAX_BODY_BYTES) applies too.
DIHYA_MAX_IMAGE_BYTES = env.int("DIHYA_MAX_IMAGE_BYTES", default=5_000_000)

LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise environ.ImproperlyConfigured(f"LOG_FORMAT is {LOG_FORMAT!r}: plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
                   "json": {"()": "dihya.observability.logs.JsonLines"}},
    # Request log lines name the route template, never the path: paths hold consent-link
    # tokens and people's ids (dihya.observability.routes).
    "filters": {"routes": {"()": "dihya.observability.routes.RouteTemplates"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"},
                **{name: {"filters": ["routes"]} for name in (
                    "django.request", "django.server", "uvicorn.access")}},
}

# --- Observability (docs/observability.md) ---------------------------------------------------
# Prometheus metrics in multiprocess mode: web processes and django-q2 workers write their
# samples to files in one directory that GET /metrics adds up. prometheus_client reads the
# variable when it is first imported, so it is set here, before any app imports it;
# scripts/run-all.sh wipes the directory at start. Tests get a directory of their own
# (tests/settings.py).
DIHYA_METRICS_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default=str(BASE_DIR / "var" / "metrics"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = DIHYA_METRICS_DIR
Path(DIHYA_METRICS_DIR).mkdir(parents=True, exist_ok=True)
# GET /metrics wants `Authorization: Bearer <this>`; unset, it answers nobody, unless
# DIHYA_METRICS_ALLOW_LOOPBACK lets loopback callers in (never behind a same-host proxy: every
# request it forwards comes from loopback). `make run`'s demo sets it.
DIHYA_METRICS_TOKEN = env.str("DIHYA_METRICS_TOKEN", default="")
DIHYA_METRICS_ALLOW_LOOPBACK = env.bool("DIHYA_METRICS_ALLOW_LOOPBACK", default=False)
# Distinct values a metric label may take in one process before new ones count as "other".
DIHYA_METRICS_MAX_LABEL_VALUES = env.int("DIHYA_METRICS_MAX_LABEL_VALUES", default=200)
# OpenTelemetry tracing: on when the standard OTLP endpoint variable is set (OTLP/HTTP).
DIHYA_TRACING = bool(env.str("OTEL_EXPORTER_OTLP_ENDPOINT", default="")
                     or env.str("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", default=""))
# The admin links a generation's trace id with this, e.g.
# "http://127.0.0.1:16686/trace/{trace_id}" (Jaeger) — empty: the id is shown as text.
DIHYA_TRACE_URL = env.str("DIHYA_TRACE_URL", default="")
