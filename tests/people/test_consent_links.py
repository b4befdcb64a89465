"""A person an app knows, with no account, reaches the consent page through a personal link."""

from __future__ import annotations

import datetime as dt

from django.test import Client
from django.utils import timezone

from audit import consent
from audit.models import AuditEvent, Consent, ConsentLink, ExternalIdentity
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from tests.people.conftest import agree, chat, link_path


def refused_url(key: str, user: str = "zoe") -> str:
    response = chat(key, user)
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert error["code"] == "consent_required" and error["param"] == "user"
    return error["consent_url"]


def test_a_refused_call_carries_a_personal_link_without_the_id_in_it(crm_key, engine):
    url = refused_url(crm_key, "zoe.martin@example.org")

    assert url.startswith("/privacy/link/")
    assert "zoe" not in url and "example" not in url
    link = ConsentLink.objects.get()
    assert (link.client_name, link.external_id, link.used) == ("crm", "zoe.martin@example.org",
                                                               None)
    assert link.digest not in url  # only its digest is stored
    assert AuditEvent.objects.filter(kind="consent_link_issued", client="crm").count() == 1
    assert not engine.called


def test_agreeing_through_the_link_lets_the_same_call_succeed(crm, crm_key, engine):
    url = refused_url(crm_key)
    browser = Client(enforce_csrf_checks=True)

    page = browser.get(link_path(url))
    assert b"crm" in page.content and b"Policy version 1" in page.content
    assert b"I agree" in page.content and b"No thanks" in page.content
    assert b"password" not in page.content
    landed = agree(browser, url)

    assert landed.status_code == 302 and landed["Location"] == "/privacy/"
    served = chat(crm_key)
    assert served.status_code == 200, served.content
    identity = ExternalIdentity.objects.get()
    assert (identity.client_id, identity.external_id, identity.source) == (
        crm.pk, "zoe", "consent link")
    assert not identity.user.has_usable_password() and "zoe" not in identity.user.username
    given = Consent.objects.get()
    assert (given.how, given.client, given.version) == ("consent link", "crm", 1)
    assert Generation.objects.get(status="succeeded").user == identity.user
    assert AuditEvent.objects.filter(kind="consent_link_used").count() == 1

    privacy = browser.get("/privacy/")  # the same link session, no password
    assert privacy.status_code == 200 and b"Withdraw my consent" in privacy.content


def test_the_link_session_reaches_the_privacy_pages_then_leaves(crm_key, engine):
    browser = Client()
    agree(browser, refused_url(crm_key))

    export = browser.get("/privacy/export/")
    assert export.status_code == 200
    assert export.json()["external_ids"][0]["id"] == "zoe"
    browser.post("/privacy/leave/")
    assert browser.get("/privacy/").status_code == 302  # to sign-in: the session is over


def test_no_thanks_records_nothing_and_the_call_stays_refused(crm_key, engine):
    url = refused_url(crm_key)

    declined = agree(Client(), url, answer="decline")

    assert declined.status_code == 200 and b"Nothing is recorded" in declined.content
    assert not Consent.objects.exists() and not ExternalIdentity.objects.exists()
    assert chat(crm_key).status_code == 403


def test_a_tampered_link_is_refused_with_a_clear_page(crm_key):
    url = refused_url(crm_key)
    tampered = link_path(url)[:-5] + "AAAA/"

    page = Client().get(tampered)

    assert page.status_code == 404 and b"This consent link is not valid" in page.content
    assert Client().post(tampered, {"answer": "agree", "version": 1}).status_code in (403, 404)
    assert not Consent.objects.exists()


def test_a_used_link_cannot_be_replayed(crm_key, engine):
    url = refused_url(crm_key)
    agree(Client(), url)

    page = Client().get(link_path(url))

    assert page.status_code == 410 and b"already been used" in page.content


def test_an_expired_link_is_refused(crm_key, settings):
    url = refused_url(crm_key)
    ConsentLink.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))

    page = Client().get(link_path(url))

    assert page.status_code == 410 and b"expired" in page.content


def test_it_lives_as_long_as_the_setting_says(crm_key, settings):
    settings.DIHYA_CONSENT_LINK_DAYS = 2
    response = chat(crm_key)
    expires = dt.datetime.fromisoformat(response.json()["error"]["consent_url_expires_at"])

    assert dt.timedelta(days=2) - (expires - timezone.now()) < dt.timedelta(minutes=1)


def test_a_link_works_for_its_person_and_client_only(crm, crm_key, route, engine):
    agree(Client(), refused_url(crm_key, "zoe"))

    assert chat(crm_key, "yann").status_code == 403  # another person of the same client
    other = ApiClient.objects.create(name="wiki", end_users=True)
    other.routes.add(route)
    other_key = keys.issue(other)[1]
    assert chat(other_key, "zoe").status_code == 403  # the same id at another client
    assert chat(crm_key, "zoe").status_code == 200


def test_a_person_with_a_password_signs_in_instead_of_getting_a_link(
        route, engine, django_user_model):
    staff = django_user_model.objects.create_user("root", password="s3cret-pass", is_staff=True)
    app = ApiClient.objects.create(name="intranet", end_users=True, user_ids="username")
    app.routes.add(route)
    key = keys.issue(app)[1]

    url = refused_url(key, "root")

    assert url == "/privacy/"  # the privacy page, where they sign in: no link to hand round
    assert not consent.is_active(staff)


def test_a_served_person_with_a_password_agrees_by_link_but_signs_in_to_see_their_page(
        route, engine, django_user_model):
    person = django_user_model.objects.create_user("ann", password="s3cret-pass")
    app = ApiClient.objects.create(name="intranet", end_users=True, user_ids="username")
    app.routes.add(route)
    key = keys.issue(app)[1]
    consent.grant(person, consent.GENERATION)
    assert chat(key, "ann").status_code == 200  # served once
    consent.withdraw(person, consent.GENERATION)
    browser = Client()

    agreed = agree(browser, refused_url(key, "ann"))

    assert agreed.status_code == 200 and b"sign in" in agreed.content.lower()
    assert consent.is_active(person)
    assert browser.get("/privacy/").status_code == 302  # no session for an account with a password


def test_the_page_speaks_french(crm_key):
    url = refused_url(crm_key)

    page = Client().get(link_path(url), HTTP_ACCEPT_LANGUAGE="fr")

    text = page.content.decode()
    assert "J\u2019accepte" in text and "Non merci" in text
    assert "Version de la politique : 1" in text and "lien est pour vous seul" in text
