"""What a consent link's session may open: only a person the client itself brought, and only
that client's part of them. A client can name anyone its `user_ids` can reach (an e-mail, a
username, a `sub`), so a link must never hand it someone who signs in."""

from __future__ import annotations

import json

from django.test import Client

from audit import consent
from audit.models import ExternalIdentity
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from tests.people.conftest import agree, api, chat


def sso_account(django_user_model, email: str = "zoe@example.org"):
    """An account as the identity provider's first sign-in makes it: no usable password."""
    user = django_user_model.objects.create_user("zoe", email=email)
    user.set_unusable_password()
    user.save()
    ExternalIdentity.objects.create(user=user, client_id=None, external_id="sub-zoe",
                                    source=ExternalIdentity.Source.SSO)
    return user


def mail_client(route, name: str = "mailer") -> tuple[ApiClient, str]:
    client = ApiClient.objects.create(name=name, end_users=True, user_ids="email")
    client.routes.add(route)
    return client, keys.issue(client, scopes=frozenset({"chat", "consent", "people"}))[1]


def test_it_gives_a_client_no_link_to_an_sso_account_it_has_never_served(
        route, engine, django_user_model):
    zoe = sso_account(django_user_model)
    _, key = mail_client(route)

    asked = api(key, "post", "/api/v1/consent-links", {"user": "zoe@example.org"})
    refused = chat(key, "zoe@example.org").json()["error"]

    assert asked.status_code == 404 and asked.json()["error"]["code"] == "user_not_found"
    assert "/privacy/link/" not in json.dumps(asked.json())
    assert refused["consent_url"] == "/privacy/"  # she signs in to agree
    assert not consent.is_active(zoe)


def test_a_link_for_a_served_sso_account_opens_no_session(route, engine, django_user_model):
    zoe = sso_account(django_user_model)
    _, key = mail_client(route)
    consent.grant(zoe)  # on her privacy page, signed in
    assert chat(key, "zoe@example.org").status_code == 200  # served
    consent.withdraw(zoe)
    browser = Client()

    url = chat(key, "zoe@example.org").json()["error"]["consent_url"]
    agree(browser, url)

    assert browser.get("/privacy/export/").status_code == 302  # to sign-in
    assert browser.get("/privacy/").status_code == 302


def test_a_link_session_shows_and_erases_only_its_clients_part(
        crm, crm_key, route, engine, django_user_model):
    browser = Client()
    agree(browser, chat(crm_key, "42").json()["error"]["consent_url"])
    person = ExternalIdentity.objects.get(client_id=crm.pk, external_id="42").user
    clinic, clinic_key = mail_client(route, "clinic")
    clinic.user_ids = "client"
    clinic.save()
    ExternalIdentity.objects.create(user=person, client_id=clinic.pk, external_id="c-9",
                                    source=ExternalIdentity.Source.ADMIN)
    assert chat(clinic_key, "c-9", content="About my HIV test").status_code == 200
    assert chat(crm_key, "42").status_code == 200

    data = json.loads(browser.get("/privacy/export/").content)

    assert [g["client"] for g in data["generations"]] == [crm.pk]
    assert "HIV" not in json.dumps(data)
    assert [i["client_id"] for i in data["external_ids"]] == [crm.pk]

    browser.post("/privacy/erase/", {"confirm": "yes",
                                     "csrfmiddlewaretoken": browser.cookies["csrftoken"].value})

    assert not ExternalIdentity.objects.filter(client_id=crm.pk).exists()
    assert Generation.objects.filter(user=person, client=clinic).count() == 1  # clinic's part stays
    assert ExternalIdentity.objects.filter(user=person, client_id=clinic.pk).exists()


def test_a_link_session_opens_for_a_person_the_link_made(crm_key, engine):
    browser = Client()
    agree(browser, chat(crm_key, "42").json()["error"]["consent_url"])

    assert browser.get("/privacy/").status_code == 200
    assert browser.get("/privacy/export/").status_code == 200


def test_a_link_made_for_a_stranger_does_not_answer_for_an_account_made_since(
        route, engine, django_user_model):
    _, key = mail_client(route)
    url = chat(key, "zoe@example.org").json()["error"]["consent_url"]  # nobody yet: a link
    zoe = sso_account(django_user_model)  # she signs up at the provider with that address

    answered = agree(Client(), url)

    assert answered.status_code == 404
    assert not consent.is_active(zoe)
