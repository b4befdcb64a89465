"""An auditor reads what changed: the audit list names the object and the fields changed, and
an event's page shows its details as fields, the hash chain folded away."""

from __future__ import annotations

from playwright.sync_api import expect

from fallbacks.models import Route
from tests.browser.conftest import log_in


def test_a_config_change_reads_as_the_object_and_its_fields(page, superuser):
    Route.objects.create(name="default", description="chat")
    log_in(page, "admin")

    page.goto("/admin/fallbacks/route/")
    page.get_by_role("link", name="default").click()
    page.get_by_label("Max tokens").fill("256")
    page.get_by_label("Description").fill("chat for the shop")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist .success")).to_be_visible()

    page.goto("/admin/audit/auditevent/?kind=config_change")
    row = page.locator("#result_list tbody tr").first
    expect(row).to_contain_text("route default updated: description, max_tokens")
    row.locator("th a, td a").first.click()

    details = page.locator(".field-readable_details")
    expect(details.locator("tr", has_text="max_tokens")).to_contain_text("256")
    expect(details.locator("tr", has_text="description")).to_contain_text("chat for the shop")
    chain = page.locator("details", has_text="Hash chain")
    expect(chain).not_to_have_attribute("open", "")
    expect(page.locator(".field-prev_hash")).to_be_hidden()
    page.get_by_text("Hash chain").click()
    expect(page.locator(".field-prev_hash")).to_be_visible()
    expect(page.locator(".field-salt")).to_have_count(0)
