"""Helpers for admin tests: seeded objects and a form's current values as POST data."""

from __future__ import annotations

import pytest
from django.forms import MultiWidget

from dihya import config
from dihya.gateway.models import ApiClient, Attempt, Generation

SEED = """
engines:
  - {name: first, provider: openai, base_url: "http://127.0.0.1:9001/v1", model: m}
  - {name: second, provider: ollama, base_url: "http://127.0.0.1:9002", model: m}
  - {name: third, provider: mistral, base_url: "https://api.mistral.ai", model: m,
     api_key_env: DIHYA_ENGINE_KEY_MISTRAL}
routes:
  - {name: default, engines: [first, second, third]}
clients:
  - {name: app, routes: [default]}
"""


@pytest.fixture
def seeded(db) -> None:
    config.apply_yaml(SEED)


def make_generation(client: ApiClient | None = None, *, status: str = "succeeded",
                    attempts: int = 2) -> Generation:
    generation = Generation.objects.create(
        source=Generation.Source.CHAT, client=client, route_name="default", status=status,
        engine_name="second", request={"messages": [{"role": "user", "content": "hi"}]},
        result="hello")
    Attempt.objects.bulk_create(
        Attempt(generation=generation, engine_name=("first", "second", "third")[i % 3],
                position=i, outcome="connect_error" if i < attempts - 1 else "ok")
        for i in range(attempts))
    return generation


def form_data(response) -> dict[str, object]:
    """What the browser would post back unchanged for the admin page in `response`."""
    data: dict[str, object] = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    for form in forms:
        for field in form:
            value = field.value()
            if value is None or value is False:
                continue
            widget = field.field.widget
            if isinstance(widget, MultiWidget):  # e.g. drop_params: ticked boxes + "other"
                for suffix, part in zip(widget.widgets_names, value, strict=True):
                    data[field.html_name + suffix] = part
            elif value is True:
                data[field.html_name] = "on"
            elif isinstance(value, list | tuple):
                data[field.html_name] = [str(v) for v in value]
            else:
                data[field.html_name] = str(value)
    return data


@pytest.fixture
def roles(db) -> None:
    """The groups the data migration creates (made again: a flush by an earlier test empties
    the tables)."""
    from dihya.console import roles as console_roles

    console_roles.ensure()


@pytest.fixture
def staff_in(roles, django_user_model, client):
    """staff_in("Auditors") → a test client logged in as a staff member of that group only."""
    from django.contrib.auth.models import Group

    def make(group: str):
        user = django_user_model.objects.create_user(group.lower(), password="pw",
                                                     is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        client.force_login(user)
        return client

    return make
