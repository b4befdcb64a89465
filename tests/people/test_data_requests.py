"""Data requests on a person's behalf, and what erasure takes of identities and links."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import Client

from audit import consent
from audit.models import AuditEvent, ConsentLink, ErasureReceipt, ExternalIdentity
from dihya.gateway import keys
from dihya.gateway.models import ApiClient
from tests.people.conftest import agree, api, chat


def served_zoe(key: str) -> None:
    consent.get_purpose()
    agree(Client(), chat(key).json()["error"]["consent_url"])
    assert chat(key).status_code == 200


def test_an_app_downloads_a_persons_data(crm_key, engine):
    served_zoe(crm_key)

    export = api(crm_key, "post", "/api/v1/people/zoe/export")

    assert export.status_code == 200, export.content
    data = export.json()
    assert data["external_ids"][0]["id"] == "zoe"
    assert len(data["generations"]) == 1 and data["consents"][0]["how"] == "consent link"
    assert AuditEvent.objects.filter(kind="data_request", client="crm").count() == 1


def test_an_app_erases_a_person_and_gets_a_receipt_of_counts(crm_key, engine):
    served_zoe(crm_key)
    api(crm_key, "post", "/api/v1/consent-links", {"user": "zoe"})  # a second, unused link

    erased = api(crm_key, "post", "/api/v1/people/zoe/erase")

    assert erased.status_code == 200, erased.content
    receipt = erased.json()
    assert receipt["object"] == "erasure_receipt"
    assert receipt["counts"]["external_ids"] == 1
    assert receipt["counts"]["consent_links"] == 2  # the one used and the one asked for
    assert receipt["counts"]["generations"] == 1
    assert "zoe" not in str(receipt) and ErasureReceipt.objects.get().by == "client"
    assert not ExternalIdentity.objects.exists() and not ConsentLink.objects.exists()
    assert not get_user_model().objects.exists()
    assert chat(crm_key).status_code == 403  # zoe is a stranger again


def test_data_requests_need_their_own_scope_and_reach_only_the_clients_people(crm, crm_key,
                                                                              engine):
    served_zoe(crm_key)
    consent_only = keys.issue(crm, scopes=frozenset({"consent"}))[1]
    wiki = ApiClient.objects.create(name="wiki", end_users=True)
    wiki_key = keys.issue(wiki, scopes=frozenset({"people"}))[1]

    assert api(consent_only, "post", "/api/v1/people/zoe/erase").status_code == 403
    assert api(wiki_key, "post", "/api/v1/people/zoe/export").status_code == 404
    assert api(crm_key, "post", "/api/v1/people/yann/export").status_code == 404
    assert ExternalIdentity.objects.count() == 1


def test_staff_are_never_erased_by_an_app(route, engine, django_user_model):
    admin = django_user_model.objects.create_user("root", password="pw-for-root", is_staff=True)
    app = ApiClient.objects.create(name="intranet", end_users=True, user_ids="username")
    app.routes.add(route)
    key = keys.issue(app, scopes=frozenset({"chat", "people"}))[1]
    consent.grant(admin)
    assert chat(key, "root").status_code == 200

    assert api(key, "post", "/api/v1/people/root/erase").status_code == 404
    assert django_user_model.objects.filter(username="root").exists()


def test_expired_links_go_with_the_retention_purge(crm_key):
    import datetime as dt

    from django.utils import timezone

    from dihya.privacy import erasure

    chat(crm_key)
    ConsentLink.objects.update(expires=timezone.now() - dt.timedelta(days=1))

    counts = erasure.purge_expired()

    assert counts["consent_links"] == 1 and not ConsentLink.objects.exists()


def shared_person(crm, crm_key, route):
    """zoe at crm, whom an admin also linked at clinic (as "c-9"), served by both."""
    served_zoe(crm_key)
    zoe = ExternalIdentity.objects.get(client_id=crm.pk, external_id="zoe").user
    clinic = ApiClient.objects.create(name="clinic", end_users=True)
    clinic.routes.add(route)
    clinic_key = keys.issue(clinic, scopes=frozenset({"chat", "people"}))[1]
    ExternalIdentity.objects.create(user=zoe, client_id=clinic.pk, external_id="c-9")
    assert chat(clinic_key, "c-9", content="About my HIV test").status_code == 200
    return zoe, clinic


def test_an_apps_export_holds_only_what_that_app_holds(crm, crm_key, route, engine):
    shared_person(crm, crm_key, route)

    data = api(crm_key, "post", "/api/v1/people/zoe/export").json()

    assert [g["client"] for g in data["generations"]] == [crm.pk]
    assert [i["id"] for i in data["external_ids"]] == ["zoe"]
    assert "HIV" not in str(data) and "c-9" not in str(data)


def test_an_apps_erasure_leaves_what_other_apps_hold(crm, crm_key, route, engine):
    zoe, clinic = shared_person(crm, crm_key, route)

    receipt = api(crm_key, "post", "/api/v1/people/zoe/erase").json()

    assert receipt["counts"]["generations"] == 1 and "account" not in receipt["counts"]
    zoe.refresh_from_db()  # the account stays: clinic knows her
    assert zoe.generations.filter(client=clinic).count() == 1
    assert list(ExternalIdentity.objects.filter(user=zoe).values_list("external_id", flat=True)
                ) == ["c-9"]
