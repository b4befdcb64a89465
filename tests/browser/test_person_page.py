"""A data-protection officer handles an access and an erasure request by mouse: from the people
list to the person's page, downloads their export, then erases them after a confirmation that
names them as the app does and says what goes."""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from audit import consent
from audit.models import ErasureReceipt, ExternalIdentity
from dihya.gateway.models import ApiClient, Generation
from tests.browser.conftest import log_in, screenshot


def test_an_officer_exports_then_erases_a_person_from_their_page(page, superuser):
    shop = ApiClient.objects.create(name="shop", end_users=True)
    alice = get_user_model().objects.create_user("person-aaf8c1d2")
    ExternalIdentity.objects.create(user=alice, client_id=shop.pk, external_id="alice-42",
                                    source="api")
    consent.grant(alice)
    Generation.objects.create(source=Generation.Source.CHAT, client=shop, end_user="alice-42",
                              route_name="default", status="succeeded",
                              result="Mailed alice@example.org")
    log_in(page, "admin")

    page.goto("/admin/auth/user/")
    page.get_by_role("textbox", name="Search").fill("alice-42")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="alice-42\u2019s page").click()

    expect(page.locator("#person-identities")).to_contain_text("alice-42")
    expect(page.locator("#person-identities")).to_contain_text("shop")
    expect(page.locator("#person-consents")).to_contain_text("given")
    expect(page.locator("#person-generations")).to_contain_text("[email]")
    expect(page.locator("#person-generations")).not_to_contain_text("alice@example.org")
    screenshot(page, "person-page")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export their data (JSON)").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["account"]["username"] == "person-aaf8c1d2"
    assert len(exported["generations"]) == 1

    page.get_by_role("link", name="Erase…").click()
    expect(page.locator("#content")).to_contain_text("alice-42 at shop")
    expect(page.locator("#erase-what-goes")).to_contain_text("1 generation")
    expect(page.locator("#erase-what-goes")).to_contain_text("1 consent record")
    button = page.get_by_role("button", name="Erase alice-42's data")
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(186, 33, 33)"
    button.click()

    receipt = ErasureReceipt.objects.get()
    expect(page.locator(".messagelist .success")).to_contain_text(
        f"Erased alice-42 at shop. What remains is erasure receipt {receipt.pk}")
    assert not get_user_model().objects.filter(username="person-aaf8c1d2").exists()
