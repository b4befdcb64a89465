"""Apps that collect consent in their own screens: /api/v1/consents and /api/v1/consent-links."""

from __future__ import annotations

from django.test import Client

from audit import consent
from audit.models import AuditEvent, Consent, ExternalIdentity
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from tests.people.conftest import agree, api, chat


def grant(key: str, user: str = "zoe", version: int = 1, **extra):
    return api(key, "post", "/api/v1/consents",
               {"user": user, "purpose": "generation", "policy_version": version,
                "evidence": "settings screen, 2026-12-01 10:00", **extra})


def test_an_app_records_a_consent_and_the_call_succeeds(crm, crm_key, engine):
    consent.get_purpose()
    recorded = grant(crm_key)

    assert recorded.status_code == 201, recorded.content
    # Every purpose's state: `third-party-engines` (lawful egress) is not agreed to.
    states = {state["purpose"]: state for state in recorded.json()["data"]}
    state = states["generation"]
    assert (state["purpose"], state["active"], state["how"], state["client"]) == (
        "generation", True, "api", "crm")
    assert not states["third-party-engines"]["active"]
    given = Consent.objects.get()
    assert (given.how, given.client, given.version) == ("api", "crm", 1)
    assert given.evidence == "settings screen, 2026-12-01 10:00"
    assert ExternalIdentity.objects.get().client_id == crm.pk
    assert chat(crm_key).status_code == 200
    event = AuditEvent.objects.get(kind="consent_granted")
    assert event.client == "crm" and event.details["how"] == "api"


def test_it_refuses_a_version_that_is_not_the_current_policy(crm_key):
    consent.get_purpose()
    consent.publish("generation", "A new text.")

    refused = grant(crm_key, version=1)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "policy_version_outdated"
    assert refused.json()["error"]["param"] == "policy_version"
    assert not Consent.objects.exists()
    assert grant(crm_key, version=2).status_code == 201


def test_it_reads_and_withdraws_and_the_queued_jobs_are_cancelled(crm, crm_key, engine):
    consent.get_purpose()
    grant(crm_key)
    queued = api(crm_key, "post", "/api/v1/generations",
                 {"model": "default", "user": "zoe",
                  "messages": [{"role": "user", "content": "later"}]})
    assert queued.status_code == 202, queued.content

    state = api(crm_key, "get", "/api/v1/consents?user=zoe").json()
    assert state["data"][0]["active"] is True
    withdrawn = api(crm_key, "delete", "/api/v1/consents?user=zoe&purpose=generation")

    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn"] == 1
    assert Generation.objects.get().status == "cancelled"
    assert api(crm_key, "get", "/api/v1/consents?user=zoe").json()["data"][0]["active"] is False
    assert chat(crm_key).status_code == 403


def test_another_client_learns_nothing_about_its_people(crm_key, route):
    consent.get_purpose()
    grant(crm_key)
    wiki = ApiClient.objects.create(name="wiki", end_users=True)
    wiki_key = keys.issue(wiki, scopes=frozenset({"consent"}))[1]

    state = api(wiki_key, "get", "/api/v1/consents?user=zoe").json()
    withdrawn = api(wiki_key, "delete", "/api/v1/consents?user=zoe").json()

    assert state["data"][0]["active"] is False
    assert withdrawn["withdrawn"] == 0
    assert Consent.objects.get().withdrawn_at is None


def test_it_needs_the_consent_scope(crm):
    chat_only = keys.issue(crm)[1]

    refused = grant(chat_only)

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "scope_not_allowed"


def test_a_client_without_end_users_has_no_one_to_ask(db):
    batch = ApiClient.objects.create(name="batch")
    key = keys.issue(batch, scopes=frozenset({"consent"}))[1]

    refused = api(key, "post", "/api/v1/consent-links", {"user": "zoe"})

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "client_has_no_end_users"


def test_it_answers_bad_input_with_a_400_naming_the_field(crm_key):
    missing = api(crm_key, "post", "/api/v1/consents", {"user": "zoe"})
    unknown = api(crm_key, "post", "/api/v1/consents",
                  {"user": "zoe", "purpose": "marketing", "policy_version": 1})

    assert missing.status_code == 400 and missing.json()["error"]["param"] == "policy_version"
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "purpose_not_found"


def test_an_app_asks_for_a_link_for_its_privacy_button(crm_key, engine):
    consent.get_purpose()
    given = api(crm_key, "post", "/api/v1/consent-links", {"user": "zoe"})

    assert given.status_code == 201, given.content
    body = given.json()
    assert body["url"].startswith("/privacy/link/") and body["expires_at"]
    assert agree(Client(), body["url"]).status_code == 302
    assert chat(crm_key).status_code == 200


def test_the_command_makes_keys_with_the_new_scopes(db, capsys):
    from django.core.management import call_command

    call_command("create_api_key", "shop", "--end-users", "--scope", "consent",
                 "--scope", "people")

    raw = capsys.readouterr().out.strip()
    verified = keys.verify(raw)
    assert verified is not None and verified.scopes == frozenset({"consent", "people"})
    assert ApiClient.objects.get(name="shop").user_ids == "client"
