"""People-facing pages name who is responsible for the person's data (GDPR art. 13), and
/privacy/ without a session says how a person gets in; in English and in French."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect


@pytest.fixture
def controller(settings):
    settings.DIHYA_CONTROLLER_NAME = "Acme Cooperative"
    settings.DIHYA_CONTROLLER_CONTACT = "privacy@acme.example"
    settings.DIHYA_DPO_CONTACT = "dpo@acme.example"
    settings.DIHYA_PRIVACY_POLICY_URL = "https://acme.example/privacy"


def test_a_stranger_learns_how_to_get_in_and_who_is_responsible(page, controller, db):
    page.goto("/privacy/")

    expect(page.get_by_role("heading", name="Here for your privacy choices?")).to_be_visible()
    expect(page.locator("#how-to-get-in")).to_contain_text("open the personal link it gave you")
    expect(page.locator("#how-to-get-in")).to_contain_text("sign in below")
    footer = page.locator("#controller")
    expect(footer).to_contain_text("Acme Cooperative is responsible for your data here")
    expect(footer.get_by_role("link", name="privacy@acme.example")).to_have_attribute(
        "href", "mailto:privacy@acme.example")
    expect(footer).to_contain_text("Data-protection officer: dpo@acme.example")
    expect(footer.get_by_role("link", name="Privacy policy")).to_have_attribute(
        "href", "https://acme.example/privacy")


def test_the_same_in_french(browser, live_server, controller, db):
    context = browser.new_context(base_url=live_server.url, locale="fr-FR",
                                  extra_http_headers={"Accept-Language": "fr"})
    page = context.new_page()
    page.goto("/privacy/")

    expect(page.locator("#how-to-get-in")).to_contain_text(
        "ouvrez le lien personnel qu\u2019elle vous a donné")
    footer = page.locator("#controller")
    expect(footer).to_contain_text("Acme Cooperative est responsable de vos données ici")
    expect(footer).to_contain_text("Délégué à la protection des données : dpo@acme.example")
    expect(footer.get_by_role("link", name="Politique de confidentialité")).to_be_visible()
    context.close()


def test_without_settings_it_still_says_who_to_ask(page, db):
    page.goto("/privacy/")

    expect(page.locator("#controller")).to_contain_text(
        "The organisation that runs this service is responsible for your data here")
