"""Reordering a route's engines in the admin changes the order the runner walks."""

from __future__ import annotations

from django.urls import reverse

from fallbacks import catalog
from fallbacks.models import Route
from tests.admin.conftest import form_data


def order() -> list[str]:
    spec = catalog.route_spec("default")
    assert spec is not None
    return [engine.name for engine in spec.engines]


def test_it_reorders_the_fallback_chain(admin_client, seeded):
    assert order() == ["first", "second", "third"]
    url = reverse("admin:fallbacks_route_change", args=[Route.objects.get().pk])
    data = form_data(admin_client.get(url))
    positions = {data[f"steps-{i}-engine"]: f"steps-{i}-position" for i in range(3)}
    engines = {e.name: str(e.pk) for e in Route.objects.get().engines.all()}
    # What the drag-and-drop script posts: new positions in the hidden order fields.
    for position, name in enumerate(["third", "first", "second"], start=1):
        data[positions[engines[name]]] = str(position)

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    assert order() == ["third", "first", "second"]


def test_the_change_page_uses_the_sortable_inline(admin_client, seeded):
    url = reverse("admin:fallbacks_route_change", args=[Route.objects.get().pk])

    html = admin_client.get(url).content.decode()

    assert "adminsortable2" in html
    assert html.count('class="_reorder_"') >= 3


def test_it_sets_the_strategy_and_the_weights_beside_the_order(admin_client, seeded):
    route = Route.objects.get()
    url = reverse("admin:fallbacks_route_change", args=[route.pk])
    data = form_data(admin_client.get(url))
    assert "steps-0-weight" in data
    names = {str(e.pk): e.name for e in route.engines.all()}
    weights = {"first": "3", "second": "1", "third": "0"}
    for i in range(3):
        data[f"steps-{i}-weight"] = weights[names[data[f"steps-{i}-engine"]]]
    data["strategy"] = "weighted"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["errors"]
    spec = catalog.route_spec("default")
    assert spec is not None and spec.strategy == "weighted"
    assert [(e.name, e.weight) for e in spec.engines] == [("first", 3), ("second", 1),
                                                          ("third", 0)]
    listing = admin_client.get(reverse("admin:fallbacks_route_changelist")).content.decode()
    assert "first (weight 3)" in listing


def test_a_weighted_route_needs_a_weight_above_zero(admin_client, seeded):
    route = Route.objects.get()
    url = reverse("admin:fallbacks_route_change", args=[route.pk])
    data = form_data(admin_client.get(url))
    for i in range(3):
        data[f"steps-{i}-weight"] = "0"
    data["strategy"] = "weighted"

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert "Every weight is 0" in response.content.decode()
    assert Route.objects.get().strategy == "ordered"


def test_the_strategy_choices_are_the_registered_strategies(admin_client, seeded):
    url = reverse("admin:fallbacks_route_change", args=[Route.objects.get().pk])

    html = admin_client.get(url).content.decode()

    for name in ("ordered", "weighted", "least_busy", "lowest_latency", "cheapest"):
        assert f'value="{name}"' in html
