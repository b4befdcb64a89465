"""Who sees a generation's raw content in the console, and what everyone else sees instead.

A generation holds what a person asked and got, their id and the app's callback URL: personal
data. Superusers see it raw. Everyone else who may view generations (Auditors, Operators) sees
the redacted, pseudonymised view the audit log gives them (`dihya.gateway.admin`), except for
generations the console itself made ("admin" source: an operator trying a route), which are
theirs. docs/security.md lists this.
"""

from __future__ import annotations

from typing import Any

from audit.redaction import redact
from dihya.gateway.models import Generation

#: What a generation holds raw about a person, and what stands for each in the redacted view.
RAW_FIELDS = {"end_user": "person", "user": None, "request": "request_redacted",
              "result": "result_redacted", "tool_calls": "tool_calls_redacted",
              "error_message": "error_message_redacted", "callback_url": "callback_host"}


def sees_raw_content(user: Any, generation: Generation | None = None) -> bool:
    """Superusers; and anyone with the view permission for what the console itself asked."""
    if getattr(user, "is_superuser", False):
        return True
    return generation is not None and generation.source == Generation.Source.ADMIN


def redacted_text(generation: Generation) -> str:
    """The answer as a viewer without raw access sees it (the console's live panel too)."""
    return redact(generation.result)
