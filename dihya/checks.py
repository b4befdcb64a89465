"""System checks for settings that make no sense together (run by `manage.py check`, and by
`check --deploy` for the ones that only matter in production).

Registered from `dihya.console.apps.DihyaAdminConfig.ready`. A check may read settings and compile
what they hold; it must never touch the database (checks run before migrations).
"""

from __future__ import annotations

import re
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from dihya.lib import fences
from fallbacks.models import VARIABLE_NAME, own_variable


@register(Tags.security)
def encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    for position, key in enumerate(k.strip() for k in settings.DIHYA_ENCRYPTION_KEY.split(",")):
        if not key:
            continue
        try:
            Fernet(key.encode())
        except ValueError:
            errors.append(Error(
                f"DIHYA_ENCRYPTION_KEY: key #{position + 1} is not a Fernet key.",
                hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
                     "print(Fernet.generate_key().decode())'",
                id="dihya.E001"))
    return errors


@register()
def patterns(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = []
    for name in ("DIHYA_DENY_PATTERNS", "DIHYA_REDACT_PATTERNS"):
        for pattern in getattr(settings, name):  # the name is one of two settings above
            try:
                re.compile(pattern)
            except re.error as exc:
                errors.append(Error(f"{name}: {pattern!r} is not a regular expression ({exc}).",
                                    hint="Patterns are comma-separated: write a comma as \\x2c.",
                                    id="dihya.E002"))
    return errors


@register(Tags.security)
def engine_key_variables(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A listed variable an engine would never read: not a name, or one of Dihya's own."""
    errors = []
    for name in (v.strip() for v in settings.DIHYA_ENGINE_KEY_VARIABLES):
        if not VARIABLE_NAME.match(name):
            problem = "is not an environment variable name"
        elif own_variable(name):
            problem = "is one of Dihya's own settings, never sent to an engine"
        else:
            continue
        errors.append(Error(
            f"DIHYA_ENGINE_KEY_VARIABLES: {name!r} {problem}.",
            hint="List only variables that hold an engine's API key (e.g. MISTRAL_API_KEY), "
                 "or name them DIHYA_ENGINE_KEY_<something>, which needs no listing.",
            id="dihya.E003"))
    return errors


@register()
def routing(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The routing strategies' knobs (fallbacks.strategies): shares and a smoothing factor."""
    errors = []
    for name, low, high, meaning in (
            ("DIHYA_LATENCY_EXPLORE", 0.0, 1.0, "a share of requests, from 0 to 1"),
            ("DIHYA_LATENCY_ALPHA", 0.0, 1.0, "the weight of a new sample, above 0 up to 1")):
        value = getattr(settings, name)  # the name is one of the settings above
        if not low <= value <= high or (name == "DIHYA_LATENCY_ALPHA" and value == 0):
            errors.append(Error(f"{name} is {value}; it is {meaning}.", id="dihya.E010"))
    for name in ("DIHYA_LOAD_REFRESH", "DIHYA_LATENCY_REFRESH"):
        if getattr(settings, name) < 0:
            errors.append(Error(f"{name} is negative; it is seconds between reads.",
                                id="dihya.E010"))
    return errors


@register()
def borrowed_internals(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """A library upgraded under code that borrows its internals (`dihya.lib.fences`): that
    code has fallen back to the library's stock path; read it again against the new version."""
    from dihya import lanes  # noqa: F401 - each module declares its fences on import
    from dihya.generation import hops  # noqa: F401
    from fallbacks import pool  # noqa: F401

    return [Warning(fence.problem(),
                    hint=f"Read {fence.where} against the new version and widen its fence, or "
                         f"remove it if {fence.until}.", id="dihya.W020")
            for fence in fences.declared() if not fence.holds()]


@register(Tags.security, deploy=True)
def production_secrets(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    warnings = []
    if not settings.DIHYA_ENCRYPTION_KEY:
        warnings.append(Warning(
            "DIHYA_ENCRYPTION_KEY is not set: engine keys and signing secrets are sealed with "
            "keys derived from SECRET_KEY, and changing SECRET_KEY would make them unreadable.",
            hint="Set DIHYA_ENCRYPTION_KEY (a Fernet key), then run "
                 "`manage.py rotate_keys --from-secret-key`.",
            id="dihya.W001"))
    if not (settings.DIHYA_ALERT_WEBHOOK_SECRET or settings.DIHYA_WEBHOOK_SECRET):
        warnings.append(Warning(
            "Neither DIHYA_ALERT_WEBHOOK_SECRET nor DIHYA_WEBHOOK_SECRET is set: quota alert "
            "webhooks cannot be signed and are not sent, nor are the job callbacks of clients "
            "without a signing secret of their own.", id="dihya.W002"))
    elif settings.DIHYA_ALERT_WEBHOOKS and not settings.DIHYA_ALERT_WEBHOOK_SECRET:
        warnings.append(Warning(
            "DIHYA_ALERT_WEBHOOK_SECRET is not set: quota alerts are signed with "
            "DIHYA_WEBHOOK_SECRET, which API clients from before per-client signing secrets "
            "may hold, and so could forge alerts.",
            hint="Set DIHYA_ALERT_WEBHOOK_SECRET (32+ random characters) and give it to the "
                 "alert receivers only (docs/security.md).", id="dihya.W005"))
    if not settings.DIHYA_PSEUDONYM_KEY:
        warnings.append(Warning(
            "DIHYA_PSEUDONYM_KEY is not set: pseudonyms are derived from SECRET_KEY, and "
            "changing SECRET_KEY would unlink every record from its person.", id="dihya.W003"))
    if not settings.DIHYA_AUDIT_KEY:
        warnings.append(Warning(
            "DIHYA_AUDIT_KEY is not set: the audit log's chain is keyed with a key derived from "
            "SECRET_KEY, and changing SECRET_KEY would make `audit verify` reject every event.",
            hint="Set DIHYA_AUDIT_KEY: 32+ random characters on a new installation; once "
                 "events were written under the derived key, that key, printed by `manage.py "
                 "shell -c \"from audit.log import derived_key; print(derived_key())\"` "
                 "(docs/security.md).",
            id="dihya.W004"))
    return warnings


@register()
def stream_heartbeat(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A stream beats so that the reaper waits for it: a beat rarer than the reaper's
    threshold would let the reaper fail (and release) a stream that is still being served."""
    threshold = settings.DIHYA_JOB_DEADLINE + settings.DIHYA_REAP_GRACE
    if not 0 < settings.DIHYA_STREAM_HEARTBEAT < threshold:
        return [Error(f"DIHYA_STREAM_HEARTBEAT ({settings.DIHYA_STREAM_HEARTBEAT:g} s) must be "
                      f"above 0 and below DIHYA_JOB_DEADLINE + DIHYA_REAP_GRACE ({threshold:g} s).",
                      id="dihya.E004")]
    return []


@register()
def db_retry(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """A worker that lost its connection tries again for DIHYA_DB_RETRY seconds after its
    engine answered; the reaper takes a job back DIHYA_REAP_GRACE seconds after its deadline.
    Longer tries than the grace would often be overtaken: the job's end is then not written
    (exactly once still holds), and the job runs again."""
    if settings.DIHYA_DB_RETRY >= settings.DIHYA_REAP_GRACE:
        return [Warning(f"DIHYA_DB_RETRY ({settings.DIHYA_DB_RETRY:g} s) is not below "
                        f"DIHYA_REAP_GRACE ({settings.DIHYA_REAP_GRACE:g} s): a worker still "
                        "trying to record a job may see the reaper take it back.",
                        id="dihya.W040")]
    return []


@register()
def masking(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Masking fails closed: a language without its installed spaCy model would stop every
    call to a masking engine at run time. Said here, before the first call."""
    import importlib.util

    from dihya.generation.detection import MODELS

    errors = []
    for language in settings.DIHYA_MASK_LANGUAGES:
        model = MODELS.get(language)
        if model is None or importlib.util.find_spec(model) is None:
            errors.append(Error(
                f"DIHYA_MASK_LANGUAGES: no installed spaCy model for {language!r}.",
                hint=f"pip install {(model or 'a spaCy model').replace('_', '-')} "
                     f"(known: {', '.join(sorted(MODELS))}); models are never downloaded at "
                     "run time.", id="dihya.E020"))
    return errors


#: Six months, in days, rounded up: the least the AI Act keeps a high-risk system's logs for
#: (Art. 19(1), Art. 26(6) for deployers), unless other law asks for longer.
HIGH_RISK_LOG_DAYS = 183


@register(Tags.security)
def logging_duties(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """A high-risk system whose audit events would be purged before six months."""
    days = settings.DIHYA_RETENTION_DAYS.get("audit")
    if not settings.DIHYA_HIGH_RISK or days is None or days >= HIGH_RISK_LOG_DAYS:
        return []
    return [Warning(
        f"DIHYA_HIGH_RISK is set but audit events are kept {days} days "
        f"(DIHYA_RETAIN_AUDIT_DAYS); the AI Act keeps a high-risk system's logs at least six "
        "months (Art. 19, 26(6)).",
        hint=f"Set DIHYA_RETAIN_AUDIT_DAYS to {HIGH_RISK_LOG_DAYS} or more (docs/security.md, "
             "Lawful egress).", id="dihya.W030")]
