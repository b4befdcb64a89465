"""A call refused for consent costs a link and audit events under the chain's lock: a person
refused again gets their live link again (no new row, no new event), and a client gets a
bounded number of such refusals a minute."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.test import override_settings

from audit.models import AuditEvent, ConsentLink
from tests.people.conftest import agree, chat


def test_a_person_refused_again_is_handed_the_same_live_link(crm_key, engine):
    first = chat(crm_key, "zoe").json()["error"]
    again = chat(crm_key, "zoe").json()["error"]

    assert again["consent_url"] == first["consent_url"]
    assert again["consent_url_expires_at"] == first["consent_url_expires_at"]
    assert ConsentLink.objects.count() == 1
    assert AuditEvent.objects.filter(kind="consent_link_issued").count() == 1


def test_a_spent_link_is_not_handed_out_again(crm_key, engine, client):
    first = chat(crm_key, "zoe").json()["error"]["consent_url"]
    agree(client, first, answer="decline")

    again = chat(crm_key, "zoe").json()["error"]["consent_url"]

    assert again != first and ConsentLink.objects.count() == 2


@override_settings(DIHYA_CONSENT_REFUSAL_RATE=3)
def test_a_client_gets_a_bounded_number_of_consent_refusals_a_minute(crm, crm_key, engine):
    cache.clear()  # the counter is per client id and minute: earlier tests' clients had this id
    answers = [chat(crm_key, f"stranger-{uuid.uuid4().hex[:8]}") for _ in range(5)]

    assert [a.status_code for a in answers] == [403, 403, 403, 429, 429]
    limited = answers[-1].json()["error"]
    assert limited["code"] == "too_many_consent_refusals" and "consent_url" not in limited
    assert answers[-1]["Retry-After"]
    assert ConsentLink.objects.count() == 3
    assert AuditEvent.objects.filter(kind="consent_refused").count() == 3
