"""The console's home by task: what an admin came to do, then Django's plumbing under "System".

Django groups the admin by app (Fallbacks, Quotas, Gateway…), which is how the code is cut,
not how an admin works: adding an engine, giving a client a key and a plan, answering a
person's request, reading the audit log. `by_task` regroups the site's own app list (each
entry keeps its permissions and links) into those tasks; a model no task names goes under
System, so a newly registered one is never lost. The app pages (/admin/<app>/) keep Django's
grouping.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

#: (slug, title, [app_label.model_name, ...]) in the order the home page shows them.
TASKS: list[tuple[str, Any, list[str]]] = [
    ("engines", _("Engines & routes"), ["fallbacks.engine", "fallbacks.route",
                                        "quotas.engineprice"]),
    ("clients", _("Clients, keys & plans"), ["gateway.apiclient", "gateway.apikey",
                                             "quotas.plan", "quotas.assignment",
                                             "quotas.alert"]),
    ("people", _("People & consent"), ["auth.user", "audit.consent", "audit.externalidentity",
                                       "audit.purpose", "audit.erasurereceipt"]),
    ("audit", _("Audit"), ["audit.auditevent"]),
    ("usage", _("Usage"), ["gateway.generation"]),
]
SYSTEM = ("system", _("System"))

#: What to do next, on a list with nothing in it yet (templates/admin/change_list.html).
EMPTY: dict[str, Any] = {
    "fallbacks.engine": _("No engines yet. Add one: the address of an OpenAI-compatible server "
                          "(llama.cpp, vLLM, Ollama) or a hosted API; “Test connection” checks "
                          "it before you save."),
    "fallbacks.route": _("No routes yet. A route is what clients ask for as “model”: add one "
                         "and put engines in its fallback order."),
    "gateway.apiclient": _("No API clients yet. Add one per application that calls Dihya, "
                           "then create its key from its page."),
    "gateway.apikey": _("No API keys yet. Open a client and press “Create an API key”."),
    "quotas.plan": _("No plans yet: no call is limited. Add a plan with its limits, then "
                     "choose it on a client's page."),
    "quotas.assignment": _("No plan is assigned. Choose a plan on a client's page."),
    "quotas.alert": _("No alerts. A plan raises them at its alert thresholds."),
    "gateway.generation": _("Nothing generated yet. Press “Test route” on a route's page, or "
                            "call the API with a client's key."),
    "audit.consent": _("No consents yet. People consent on the privacy page or through a "
                       "consent link a client shows them."),
    "audit.auditevent": _("No events yet: generations, consents and configuration changes "
                          "are recorded here as they happen."),
}


def by_task(app_list: list[dict[str, Any]], extra: dict[str, list[dict[str, Any]]] | None = None
            ) -> list[dict[str, Any]]:
    """Django's app list regrouped by task, System last; `extra` adds console pages (e.g. the
    usage page) to a task by its slug. Empty tasks are left out (a role may see few)."""
    models = {f"{app['app_label']}.{m['object_name'].lower()}": m
              for app in app_list for m in app["models"]}
    index = reverse("admin:index")
    sections = []
    taken: set[str] = set()
    for slug, title, names in TASKS:
        found = [models[n] for n in names if n in models]
        taken.update(names)
        found = (extra or {}).get(slug, []) + found
        if found:
            sections.append(_section(slug, title, found, index))
    rest = [m for name, m in models.items() if name not in taken]
    if rest:
        sections.append(_section(*SYSTEM, sorted(rest, key=lambda m: str(m["name"])), index))
    return sections


def _section(slug: str, title: Any, models: list[dict[str, Any]], index: str) -> dict[str, Any]:
    return {"name": title, "app_label": slug, "app_url": f"{index}#{slug}",
            "has_module_perms": True, "models": models}
