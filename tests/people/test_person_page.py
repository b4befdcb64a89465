"""A data-protection officer's page for one person: the ids apps know them by, consents,
redacted generations, quota counters; export and erase for those who may change users,
reading only for auditors."""

from __future__ import annotations

import json

from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent, ErasureReceipt, ExternalIdentity
from dihya.lib.pseudonyms import pseudonym
from quotas.models import Counter
from tests.admin.conftest import roles, staff_in  # noqa: F401 - the console's groups
from tests.people.conftest import chat
from tests.people.test_people_admin import grant, person_known_as


def page_of(user, part: str = "") -> str:
    return reverse(f"admin:auth_user_person{part}", args=[user.pk])


def test_it_shows_ids_consents_redacted_generations_and_quota_use(crm, crm_key, engine,
                                                                   admin_client):
    grant(crm_key, "alice-42")
    assert chat(crm_key, user="alice-42", content="Mail alice@example.org").status_code == 200
    alice = person_known_as("alice-42")
    Counter.objects.create(subject=f"user:{pseudonym('alice-42')}", metric="tokens",
                           period="day", window_start=timezone.now(), used=4321)

    listed = admin_client.get("/admin/auth/user/", {"q": "alice-42"}).content.decode()
    page = admin_client.get(page_of(alice)).content.decode()

    assert page_of(alice) in listed and "alice-42\u2019s page" in listed
    assert "alice-42" in page and "crm" in page
    assert "generation" in page and "given (" in page
    assert "person-generations" in page
    assert "person-quota" in page and "4321" in page
    assert "Export their data" in page and "Erase" in page


def test_it_exports_the_persons_data_as_a_json_download(crm, crm_key, admin_client):
    grant(crm_key, "alice-42")
    alice = person_known_as("alice-42")

    answer = admin_client.get(page_of(alice, "_export"))

    assert answer["Content-Disposition"] == f'attachment; filename="person-{alice.pk}.json"'
    data = json.loads(answer.content)
    assert data["account"]["username"] == alice.get_username()
    assert len(data["consents"]) == 1
    event = AuditEvent.objects.get(kind="data_request")
    assert (event.actor, event.details) == ("admin admin", {"kind": "export"})


def test_it_confirms_an_erasure_by_the_apps_name_with_counts_then_leaves_a_receipt(
        crm, crm_key, engine, admin_client):
    grant(crm_key, "alice-42")
    chat(crm_key, user="alice-42")
    chat(crm_key, user="alice-42")
    alice = person_known_as("alice-42")

    asked = admin_client.get(page_of(alice, "_erase")).content.decode()
    done = admin_client.post(page_of(alice, "_erase"), follow=True).content.decode()

    assert "alice-42 at crm" in asked
    assert "2 generations" in asked and "1 consent record" in asked
    assert "Erase alice-42's data" in asked
    receipt = ErasureReceipt.objects.get()
    assert f"erasure receipt {receipt.pk}" in done
    assert not ExternalIdentity.objects.filter(external_id="alice-42").exists()


def test_an_auditor_reads_the_page_but_may_neither_export_nor_erase(crm, crm_key,
                                                                    staff_in):  # noqa: F811
    grant(crm_key, "alice-42")
    alice = person_known_as("alice-42")
    auditor = staff_in("Auditors")

    page = auditor.get(page_of(alice))

    assert page.status_code == 200 and "alice-42" in page.content.decode()
    assert "Export their data" not in page.content.decode()
    assert auditor.get(page_of(alice, "_export")).status_code == 403
    assert auditor.post(page_of(alice, "_erase")).status_code == 403
    assert not ErasureReceipt.objects.exists()
