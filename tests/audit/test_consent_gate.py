"""The consent step through the real pipeline: no consent, no generation, no engine call."""

from __future__ import annotations

import pytest

from audit import consent
from audit.models import ExternalIdentity
from dihya.gateway.models import Generation
from dihya.generation.errors import Refusal
from tests.audit.conftest import admit, run


def refused(client, user="alice") -> Refusal:
    with pytest.raises(Refusal) as caught:
        admit(client, user)
    return caught.value


def test_it_refuses_a_user_without_consent_and_calls_no_engine(route, helpdesk, alice, engine):
    refusal = refused(helpdesk, "newcomer")  # nobody Dihya knows: a link (tests/people)

    assert refusal.status == 403
    body = refusal.body()["error"]
    assert body["code"] == "consent_required"
    assert body["consent_url"].startswith("/privacy/link/")  # personal: tests/people
    assert "not consented" in body["message"]
    assert not engine.called
    assert not Generation.objects.exists()


def test_it_admits_the_same_call_once_the_user_consents(route, helpdesk, alice, engine):
    refused(helpdesk)
    consent.grant(alice)

    admission = admit(helpdesk)
    run(admission)

    generation = Generation.objects.get()
    assert generation.status == "succeeded"
    assert generation.user == alice
    assert engine.called


def test_it_refuses_a_call_that_names_nobody(route, helpdesk, engine):
    refusal = refused(helpdesk, user=None)

    assert refusal.code == "consent_required"
    assert "`user` field" in refusal.message


def test_it_refuses_a_user_who_has_no_account(route, helpdesk, engine):
    refusal = refused(helpdesk, user="stranger")

    assert refusal.code == "consent_required"
    assert "without an account" in refusal.message


def test_it_asks_again_when_the_policy_changes(route, helpdesk, alice, engine):
    consent.grant(alice)
    consent.publish("generation", "A new policy text.")

    assert refused(helpdesk).code == "consent_required"
    consent.grant(alice)
    admit(helpdesk)


def test_it_refuses_after_withdrawal(route, helpdesk, alice, engine):
    consent.grant(alice)
    admit(helpdesk)
    consent.withdraw(alice)

    assert refused(helpdesk).code == "consent_required"


def test_it_maps_an_external_id_to_the_account(route, helpdesk, alice, engine):
    ExternalIdentity.objects.create(user=alice, external_id="crm-4711")
    consent.grant(alice)

    generation = admit(helpdesk, user="crm-4711").generation

    assert generation.user == alice


def test_it_leaves_clients_without_end_users_and_operators_alone(route, alice, engine, db):
    from dihya.gateway.models import ApiClient

    internal = ApiClient.objects.create(name="batch", end_users=False)
    admit(internal, user=None)
    admit(None, user="alice")
    assert Generation.objects.count() == 2


def test_it_gives_an_absolute_consent_url_when_the_public_url_is_set(route, helpdesk, alice,
                                                                    settings, engine):
    settings.DIHYA_PUBLIC_URL = "https://dihya.example.org/"

    assert refused(helpdesk, "newcomer").extra["consent_url"].startswith(
        "https://dihya.example.org/privacy/link/")
    assert refused(helpdesk).extra["consent_url"] == "https://dihya.example.org/privacy/"
