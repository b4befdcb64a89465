"""A person with no account opens their consent link in a fresh browser and agrees (EN, FR)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from audit import consent
from dihya.gateway import keys
from tests.audit.conftest import engine, route  # noqa: F401 - the faked engine and its route
from tests.people.conftest import chat as chat_here
from tests.people.conftest import link_path


def chat(key: str, user: str):
    """The API call, from a thread of its own: Playwright's event loop runs in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(chat_here, key, user).result()


def refused_link(key: str, user: str) -> str:
    response = chat(key, user)
    assert response.status_code == 403, response.content
    return link_path(response.json()["error"]["consent_url"])


def test_a_person_agrees_through_their_link_and_the_call_succeeds(page, route, engine,  # noqa: F811
                                                                  django_user_model):
    from dihya.gateway.models import ApiClient

    consent.get_purpose()
    crm = ApiClient.objects.create(name="crm", end_users=True)
    crm.routes.add(route)
    key = keys.issue(crm)[1]
    link = refused_link(key, "zoe")

    page.goto(link)
    assert page.locator("h1").inner_text() == "Your consent"
    assert page.locator(".meta").first.inner_text() == "Policy version 1"
    page.click("text=I agree")
    page.wait_for_selector("text=Withdraw my consent")
    assert page.locator("text=Through crm").is_visible()

    assert chat(key, "zoe").status_code == 200
    page.goto(link)  # spent
    assert "already been used" in page.locator("#link-refused").inner_text()
    page.goto(link[:-6] + "xxxxx/")  # tampered
    assert "not valid" in page.locator("#link-refused").inner_text()
    assert chat(key, "yann").status_code == 403  # another person still has to consent


def test_the_link_page_speaks_french(browser, live_server, route, engine):  # noqa: F811
    from dihya.gateway.models import ApiClient

    consent.get_purpose()
    crm = ApiClient.objects.create(name="crm", end_users=True)
    crm.routes.add(route)
    key = keys.issue(crm)[1]
    context = browser.new_context(base_url=live_server.url, locale="fr-FR")
    page = context.new_page()
    try:
        page.goto(refused_link(key, "zoé"))
        assert page.locator("h1").inner_text() == "Votre consentement"
        assert page.locator(".meta").first.inner_text() == "Version de la politique : 1"
        page.click("text=J’accepte")  # noqa: RUF001 - the French apostrophe
        page.wait_for_selector("text=Retirer mon consentement")
        assert "Merci" in page.locator(".note").inner_text()
        page.click("text=Quitter")
        page.wait_for_selector("text=Vous êtes sorti")
    finally:
        context.close()
    assert chat(key, "zoé").status_code == 200
