"""Ticking "Serves end users" on a client says, before saving, what its callers will get."""

from __future__ import annotations

from playwright.sync_api import expect

from dihya.gateway.models import ApiClient, Generation
from tests.browser.conftest import log_in


def test_ticking_serves_end_users_warns_with_the_last_days_calls(page, superuser):
    shop = ApiClient.objects.create(name="shop")
    for end_user in ("", "", "alice-42"):
        Generation.objects.create(source=Generation.Source.CHAT, client=shop, route_name="default",
                                  status="succeeded", end_user=end_user, request={})
    log_in(page, "admin")

    page.goto("/admin/gateway/apiclient/")
    page.get_by_role("link", name="shop").click()
    warning = page.locator("#end-users-warning")
    expect(warning).to_be_hidden()
    page.get_by_label("Serves end users").check()
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("In the last day, 2 calls had no user: (of 3)")
    expect(warning).to_contain_text("403 consent_required")
    expect(warning).to_contain_text("1 person was named in user")
    page.get_by_label("Serves end users").uncheck()
    expect(warning).to_be_hidden()
    shop.refresh_from_db()
    assert not shop.end_users  # nothing saved yet
