"""A data-protection officer in the console: finds a person by the id an app knows them by
(with the app's name), by e-mail or by username, and withdraws their consent with a reason —
audited, and the person's very next call is refused."""

from __future__ import annotations

from audit import consent
from audit.models import AuditEvent, Consent, ExternalIdentity
from tests.people.conftest import api, chat

PEOPLE = "/admin/auth/user/"


def grant(key: str, user: str) -> None:
    consent.get_purpose()
    answer = api(key, "post", "/api/v1/consents",
                 {"user": user, "purpose": "generation", "policy_version": 1,
                  "evidence": "settings screen"})
    assert answer.status_code == 201, answer.content


def person_known_as(external_id: str):
    return ExternalIdentity.objects.select_related("user").get(external_id=external_id).user


def test_it_finds_a_person_by_the_id_an_app_sends_and_names_the_app(crm, crm_key,
                                                                     admin_client):
    grant(crm_key, "alice-42")
    grant(crm_key, "bob-7")
    alice = person_known_as("alice-42")

    page = admin_client.get(PEOPLE, {"q": "alice-42"}).content.decode()

    assert alice.get_username() in page
    assert person_known_as("bob-7").get_username() not in page
    assert "alice-42 at crm" in page


def test_it_finds_a_person_by_e_mail_or_username(crm, crm_key, admin_client):
    grant(crm_key, "alice-42")
    alice = person_known_as("alice-42")
    alice.email = "alice@example.org"
    alice.save()

    by_mail = admin_client.get(PEOPLE, {"q": "alice@example.org"}).content.decode()
    by_name = admin_client.get(PEOPLE, {"q": alice.get_username()}).content.decode()

    assert "alice-42 at crm" in by_mail and "alice-42 at crm" in by_name


def test_it_withdraws_consent_with_a_reason_and_the_next_call_is_refused(crm, crm_key, engine,
                                                                          admin_client):
    grant(crm_key, "alice-42")
    alice = person_known_as("alice-42")
    assert chat(crm_key, user="alice-42").status_code == 200
    selected = {"action": "withdraw_consent", "_selected_action": [alice.pk]}

    asked = admin_client.post(PEOPLE, selected)
    no_reason = admin_client.post(PEOPLE, {**selected, "confirm": "yes", "reason": " "})
    done = admin_client.post(PEOPLE, {**selected, "confirm": "yes",
                                      "reason": "her e-mail of 4 December"}, follow=True)

    assert "alice-42 at crm" in asked.content.decode() and "Reason" in asked.content.decode()
    assert "This field is required" in no_reason.content.decode()
    assert "consent withdrawn" in done.content.decode()
    assert not consent.is_active(alice)
    assert Consent.objects.get(user=alice).withdrawn_how == "admin"
    event = AuditEvent.objects.get(kind="consent_withdrawn")
    assert event.actor == "admin admin"
    assert event.details == {"purpose": "generation", "how": "admin",
                             "reason": "her e-mail of 4 December"}
    refused = chat(crm_key, user="alice-42")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "consent_required"
