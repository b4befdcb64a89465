"""The console's roles, as Django groups: Operators run the gateway, Auditors read its records.

Superusers need no group. A role is a list of model permissions; the admin checks them on
every page and action (a missing `change` permission is a 403, not a hidden button). Auditors
get no permission at all on engines and API keys: an engine's form is where its secret is
typed, and a key belongs to whoever holds it.

`ensure()` is idempotent: the data migration calls it with the historical app registry, and
tests call it again after a flush has emptied the tables.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps

OPERATORS = "Operators"
AUDITORS = "Auditors"

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)

ROLES: dict[str, dict[str, tuple[str, ...]]] = {
    OPERATORS: {
        "fallbacks.engine": ALL,
        "fallbacks.route": ALL,
        "fallbacks.routeengine": ALL,       # the route page's drag-and-drop inline
        "fallbacks.breakerstate": VIEW,
        "quotas.plan": ALL,
        "quotas.limit": ALL,                # the plan page's inline
        "quotas.assignment": ALL,
        "quotas.engineprice": ALL,
        "quotas.counter": VIEW,
        "quotas.alert": ("change", "view"),  # acknowledge
        "gateway.delivery": VIEW,           # the log of callbacks and alert deliveries
        "gateway.apiclient": ALL,
        "gateway.apikey": ALL,
        "gateway.generation": VIEW,
        "gateway.attempt": VIEW,
        "batches.batch": ("change", "view"),  # cancel
        "batches.batchfile": VIEW,            # download
    },
    AUDITORS: {
        "audit.auditevent": VIEW,
        "audit.erasurereceipt": VIEW,
        "audit.consent": VIEW,
        "audit.purpose": VIEW,
        "gateway.generation": VIEW,
        "gateway.attempt": VIEW,
        "auth.user": VIEW,                  # the people list and person pages (a DPO's reading)
    },
}


def ensure(apps: Any = global_apps) -> None:
    """Create the groups and give them exactly their permissions (models not installed yet
    are skipped; a later migration calling this again adds them)."""
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, grants in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = []
        for label, actions in grants.items():
            app_label, model = label.split(".")
            wanted += list(permission_model.objects.filter(
                content_type__app_label=app_label,
                codename__in=[f"{action}_{model}" for action in actions]))
        group.permissions.set(wanted)
