"""An operator lets a client's SDK through by ticking the fields to drop, and types one Dihya
does not know in the "other" box: no JSON to write."""

from __future__ import annotations

from playwright.sync_api import expect

from dihya.gateway.models import ApiClient
from tests.browser.conftest import log_in


def test_an_operator_ticks_fields_to_drop_and_types_another(page, superuser):
    app = ApiClient.objects.create(name="app")
    log_in(page, "admin")
    page.goto(f"/admin/gateway/apiclient/{app.pk}/change/")

    page.get_by_label("logit_bias", exact=True).check()
    page.get_by_label("n (more than one choice)").check()
    page.get_by_label("other fields to drop").fill("x_sdk_hint")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist .success")).to_be_visible()
    app.refresh_from_db()
    assert app.drop_params == ["logit_bias", "n", "x_sdk_hint"]
