"""The record of processing activities (GDPR Art. 30), from what Dihya knows.

Built from the configuration and the audit log: who the controller is (settings), the
purposes people consent to and their policy versions, the categories of data and of people,
the recipients (every engine: who runs it, where, whether a third party), the transfers
outside the EU, how long each kind of record is kept, the security measures, and per engine
the calls and masked entities of a period. It is dated and signed (HMAC-SHA256 with the audit
key over its canonical JSON) so that a copy handed over later can be checked: `verify`.

It never contains a prompt, a person's identifier or an engine's address or key. What it
cannot know (the legal basis beyond consent, the safeguards of a transfer, the other systems
of the organisation) stays the controller's to add.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from audit.log import chain_key
from audit.models import AuditEvent, Purpose
from dihya.gateway.models import ApiClient
from fallbacks.models import Engine, Processor

ALGORITHM = "HMAC-SHA256"
#: The period of the volume figures when none is given, in days up to now.
DEFAULT_DAYS = 30
#: Regions inside the EU (and the organisation's own servers): no transfer to a third country.
EU_REGIONS = frozenset({
    "local", "EU", "EEA", "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE",
    "GR", "EL", "HU", "IE", "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI",
    "ES", "SE"})
#: Attempts that were skipped before anything left: not calls.
NOT_CALLS = frozenset({"region_not_allowed", "masking_failed", "unsupported", "no_free_slot",
                       "circuit_open", "context_too_long", "not_configured"})

DATA_CATEGORIES = [
    "Messages sent to language models and their answers (may contain any personal data the "
    "person writes)",
    "Identifiers applications give for their users, stored as pseudonyms in the audit log",
    "Consent records (purpose, policy version, time, how it was given)",
    "Usage records (time, application, route, engine, tokens, outcome)",
    "Sign-in records of staff and people (username, IP address, browser)",
]
SECURITY_MEASURES = [
    "Engine API keys encrypted at rest (Fernet), or read from the environment only",
    "People pseudonymised in the audit log and usage counters (keyed HMAC-SHA256)",
    "Audit log as a hash chain keyed with DIHYA_AUDIT_KEY (`manage.py audit verify`)",
    "Personal data masked by placeholders before it reaches engines set to mask, restored "
    "in the answer; masking that fails stops the call (fails closed)",
    "Residency policies per application and per person: engines outside them are never "
    "called",
    "Prompts and answers kept only for their retention period; erasure on request",
    "Access to the admin by role, with sign-in throttling",
]


def transfer(region: str) -> bool:
    """Whether processing in `region` is a transfer outside the EU (Art. 44)."""
    return region not in EU_REGIONS


def build(since: datetime, until: datetime) -> dict[str, Any]:
    """The record, as plain JSON-ready data (unsigned)."""
    engines = list(Engine.objects.order_by("name"))
    recipients = [{
        "engine": e.name, "operator": e.get_provider_display()
        if e.processor == Processor.THIRD_PARTY else "the organisation (self-hosted)",
        "provider": e.provider, "model": e.model, "region": e.region,
        "processor": e.processor, "masked": e.masks, "enabled": e.enabled,
    } for e in engines]
    volume = _volume(since, until)
    return {
        "title": "Record of processing activities (GDPR Art. 30)",
        "generated": timezone.now().isoformat(timespec="seconds"),
        "period": {"since": since.isoformat(timespec="seconds"),
                   "until": until.isoformat(timespec="seconds")},
        "controller": {"name": settings.DIHYA_CONTROLLER_NAME,
                       "contact": settings.DIHYA_CONTROLLER_CONTACT,
                       "dpo": settings.DIHYA_DPO_CONTACT},
        "purposes": [{"purpose": p.slug, "title": p.title, "policy_version": p.version,
                      "updated": p.updated.isoformat(timespec="seconds")}
                     for p in Purpose.objects.order_by("slug")],
        "data_categories": DATA_CATEGORIES,
        "data_subjects": _subjects(),
        "recipients": recipients,
        "transfers_outside_eu": [{"engine": r["engine"], "operator": r["operator"],
                                  "region": r["region"], "processor": r["processor"],
                                  "masked": r["masked"]}
                                 for r in recipients if transfer(str(r["region"]))],
        "retention_days": {kind: days for kind, days in
                           sorted(settings.DIHYA_RETENTION_DAYS.items())},
        "security_measures": SECURITY_MEASURES,
        "volume": [{"engine": e.name, **volume.get(e.name, _empty())} for e in engines],
    }


def _subjects() -> list[str]:
    serving = list(ApiClient.objects.filter(end_users=True, active=True)
                   .order_by("name").values_list("name", flat=True))
    subjects = ["Staff who operate Dihya (admin accounts)"]
    if serving:
        subjects.append("People on whose behalf these applications call: "
                        + ", ".join(serving))
    return subjects


def _empty() -> dict[str, Any]:
    return {"calls": 0, "served": 0, "masked": {}}


def _volume(since: datetime, until: datetime) -> dict[str, dict[str, Any]]:
    """Per engine: attempts that called it, the ones it served, entities masked by type."""
    calls: Counter[str] = Counter()
    served: Counter[str] = Counter()
    masked: dict[str, Counter[str]] = defaultdict(Counter)
    events = AuditEvent.objects.filter(kind="generation", created__gte=since,
                                       created__lt=until).values_list("attempts", flat=True)
    for attempts in events.iterator(chunk_size=2000):
        for attempt in attempts or ():
            engine, outcome = attempt.get("engine", ""), attempt.get("outcome", "")
            if outcome in NOT_CALLS:
                continue
            calls[engine] += 1
            served[engine] += outcome == "ok"
            masked[engine].update(attempt.get("masked") or {})
    return {engine: {"calls": calls[engine], "served": served[engine],
                     "masked": dict(sorted(masked[engine].items()))} for engine in calls}


# --- signing ---------------------------------------------------------------------------------
def canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


def sign(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its signature: what is handed over, and what `verify` checks."""
    value = hmac.new(chain_key(), canonical(record), hashlib.sha256).hexdigest()
    return {"record": record, "signature": {"algorithm": ALGORITHM, "value": value}}


def verify(document: dict[str, Any]) -> bool:
    """Whether a signed record is exactly as Dihya made it, with this deployment's key."""
    try:
        record, signature = document["record"], document["signature"]["value"]
    except (KeyError, TypeError):
        return False
    expected = hmac.new(chain_key(), canonical(record), hashlib.sha256).hexdigest()
    return isinstance(signature, str) and hmac.compare_digest(expected, signature)


def as_csv(signed: dict[str, Any]) -> str:
    """One row per fact (section, item, field, value): for a spreadsheet."""
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["section", "item", "field", "value"])
    record = signed["record"]
    for section, value in record.items():
        if isinstance(value, dict):
            for key, item in value.items():
                rows.writerow([section, "", key, _cell(item)])
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    name = str(item.get("engine") or item.get("purpose") or i)
                    for key, field in item.items():
                        rows.writerow([section, name, key, _cell(field)])
                else:
                    rows.writerow([section, i, "", _cell(item)])
        else:
            rows.writerow([section, "", "", _cell(value)])
    rows.writerow(["signature", "", signed["signature"]["algorithm"],
                   signed["signature"]["value"]])
    return out.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def from_html(text: str) -> dict[str, Any]:
    """The signed record an HTML copy embeds (`<script id="record" …>`, json_script's)."""
    start = text.index('<script id="record" type="application/json">')
    start = text.index(">", start) + 1
    return json.loads(text[start:text.index("</script>", start)])


def load(text: str) -> dict[str, Any]:
    """A signed record from a JSON or an HTML copy."""
    stripped = text.lstrip()
    return json.loads(stripped) if stripped.startswith("{") else from_html(text)


def render(signed: dict[str, Any], fmt: str) -> tuple[str, str]:
    """(content type, text) of a signed record as `html`, `json` or `csv`."""
    if fmt == "json":
        return "application/json", json.dumps(signed, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return "text/csv", as_csv(signed)
    from django.template.loader import render_to_string

    return "text/html", render_to_string("privacy/record.html", {
        "record": signed["record"], "signature": signed["signature"], "signed": signed})


def period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The period asked for; by default the last DEFAULT_DAYS days up to now."""
    until = until or timezone.now()
    return since or until - timedelta(days=DEFAULT_DAYS), until
