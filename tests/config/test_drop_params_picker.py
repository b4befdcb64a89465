"""`drop_params` is ticked from the fields Dihya may refuse, plus an "other" box, on the route
and client pages; it is stored as the same JSON list `config apply/export` reads and writes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dihya import config
from dihya.gateway.models import ApiClient
from fallbacks.models import Route
from tests.admin.conftest import SEED, form_data


@pytest.fixture
def configured(db) -> None:
    config.apply_yaml(SEED)


PAGES = [("admin:fallbacks_route_change", Route, "default", "routes"),
         ("admin:gateway_apiclient_change", ApiClient, "app", "clients")]


def post_drop_params(admin_client, page_name, obj, ticked, other):
    url = reverse(page_name, args=[obj.pk])
    data = form_data(admin_client.get(url))
    data["drop_params_0"] = ticked
    data["drop_params_1"] = other
    return admin_client.post(url, data)


@pytest.mark.parametrize(("page_name", "model", "name", "section"), PAGES)
def test_it_offers_checkboxes_and_stores_the_json_list_config_exports(
        configured, admin_client, page_name, model, name, section):
    obj = model.objects.get(name=name)
    page = admin_client.get(reverse(page_name, args=[obj.pk])).content.decode()
    assert 'type="checkbox" name="drop_params_0" value="logit_bias"' in page

    saved = post_drop_params(admin_client, page_name, obj, ["n", "logit_bias"],
                             "x_sdk_hint, vendor.extra")

    assert saved.status_code == 302, saved.context["adminform"].form.errors
    obj.refresh_from_db()
    assert obj.drop_params == ["logit_bias", "n", "vendor.extra", "x_sdk_hint"]
    exported = config.load_yaml(config.export_yaml())
    assert next(item for item in exported[section] if item["name"] == name)["drop_params"] \
        == obj.drop_params
    again = admin_client.get(reverse(page_name, args=[obj.pk])).content.decode()
    assert 'value="logit_bias" id="id_drop_params_0_2" checked' in again
    assert 'value="vendor.extra, x_sdk_hint"' in again


@pytest.mark.parametrize(("page_name", "model", "name", "section"), PAGES)
def test_it_refuses_what_is_not_a_field_name(configured, admin_client, page_name, model, name,
                                             section):
    obj = model.objects.get(name=name)

    refused = post_drop_params(admin_client, page_name, obj, ["seed"], "x_ok, {bad}")

    assert refused.status_code == 200 and "Not a field name: {bad}" in refused.content.decode()
    obj.refresh_from_db()
    assert obj.drop_params == []


def test_config_apply_shows_in_the_form_as_ticked_and_other(configured, admin_client):
    config.apply_yaml("routes:\n  - {name: default, engines: [first, second, third],"
                      " drop_params: [tools, sdk_thing]}\n")
    route = Route.objects.get(name="default")

    page = admin_client.get(reverse("admin:fallbacks_route_change", args=[route.pk]))

    assert 'value="tools" id="id_drop_params_0_10" checked' in page.content.decode()
    assert 'value="sdk_thing"' in page.content.decode()
