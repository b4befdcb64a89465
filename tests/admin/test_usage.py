"""The usage page's figures: grouped, priced per engine, exported without formulas."""

from __future__ import annotations

from dihya.console import usage
from dihya.gateway.models import Generation


def test_a_name_is_never_a_formula_in_the_csv():
    text = usage.as_csv("week", "route", [usage.Row("=HYPERLINK(\"x\")", requests=1)])

    assert "'=HYPERLINK" in text


def test_calls_without_a_client_are_grouped_and_named(db):
    Generation.objects.create(source=Generation.Source.COMMAND, route_name="default",
                              status="succeeded", prompt_tokens=3, completion_tokens=4,
                              request={})

    (row,) = usage.rows("day", "client")

    assert (row.name, row.requests, row.tokens) == (usage.NOBODY["client"], 1, 7)


def test_the_page_needs_the_right_to_view_generations(client, django_user_model, db):
    django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.login(username="clerk", password="pw")

    assert client.get("/admin/usage/").status_code == 403
