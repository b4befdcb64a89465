"""The console's home is laid out by task, Django's plumbing under System; "View site" and the
favicon lead somewhere real; an empty list says what to do next."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import log_in


def test_the_home_page_is_by_task_with_the_plumbing_under_system(page, superuser):
    log_in(page, "admin")

    captions = page.locator("#content-main .module caption")
    expect(captions).to_have_text(["Engines & routes", "Clients, keys & plans",
                                   "People & consent", "Audit", "Usage", "System"])
    clients = page.locator("#content-main .module", has_text="Clients, keys & plans")
    for name in ("API clients", "API keys", "Plans", "Alerts"):
        expect(clients.get_by_role("link", name=name, exact=True)).to_be_visible()
    system = page.locator("#content-main .module", has_text="System")
    for name in ("Access attempts", "Groups", "Counters", "Deliveries", "Scheduled tasks"):
        expect(system.get_by_role("link", name=name, exact=True)).to_be_visible()

    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(icon).ok
    page.get_by_role("link", name="View site").click()
    expect(page).to_have_url("/api/v1/docs")
    expect(page.locator("body")).to_contain_text("Dihya")


def test_an_empty_list_says_what_to_do_next(page, superuser):
    log_in(page, "admin")

    page.locator("#content-main").get_by_role("link", name="Engines", exact=True).click()
    expect(page.locator(".dihya-empty")).to_contain_text("No engines yet. Add one")
    page.goto("/admin/gateway/apikey/")
    expect(page.locator(".dihya-empty")).to_contain_text("Create an API key")
    page.goto("/admin/gateway/apikey/?q=nothing-matches")
    expect(page.locator(".dihya-empty")).to_have_count(0)
