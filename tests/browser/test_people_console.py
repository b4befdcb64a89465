"""A data-protection officer handles a request by mouse: finds the person by the id the app
sent ("alice-42"), sees which app knows them so, and withdraws their consent with a reason."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from audit import consent
from audit.models import AuditEvent, ExternalIdentity
from dihya.gateway.models import ApiClient
from tests.browser.conftest import log_in


def test_an_officer_finds_a_person_by_the_apps_id_and_withdraws_their_consent(page, superuser):
    shop = ApiClient.objects.create(name="shop", end_users=True)
    alice = get_user_model().objects.create_user("person-aaf8c1d2")
    ExternalIdentity.objects.create(user=alice, client_id=shop.pk, external_id="alice-42",
                                    source="api")
    get_user_model().objects.create_user("person-b0b0b0b0")
    consent.grant(alice)
    log_in(page, "admin")

    page.goto("/admin/auth/user/")
    page.get_by_role("textbox", name="Search").fill("alice-42")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("alice-42 at shop")

    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", label="Withdraw consent to generation (with a "
                       "reason)")
    page.get_by_role("button", name="Go").click()
    expect(page.locator("#content")).to_contain_text("known to apps as alice-42 at shop")
    page.get_by_label("Reason").fill("her e-mail of 4 December")
    page.get_by_role("button", name="Withdraw consent of 1 person").click()

    expect(page.locator(".messagelist .success")).to_contain_text("consent withdrawn")
    assert not consent.is_active(alice)
    assert AuditEvent.objects.get(kind="consent_withdrawn").details["reason"] == \
        "her e-mail of 4 December"
