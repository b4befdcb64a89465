"""Admin: audit events and consents are read-only proof; a changed policy is a new version."""

from __future__ import annotations

import pytest
from django.test import Client

from audit import consent, log
from audit.models import AuditEvent, Purpose
from tests.audit.conftest import admit, run


@pytest.fixture
def admin_client(make_user) -> Client:
    make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.login(username="root", password="correct horse battery")
    return client


def test_it_lists_events_with_their_fallbacks_read_only(admin_client, route, helpdesk, alice,
                                                       engine, django_assert_max_num_queries):
    consent.grant(alice)
    for _ in range(3):
        run(admit(helpdesk))
    event = AuditEvent.objects.filter(kind="generation").first()

    with django_assert_max_num_queries(13):  # +1: the staff whose pseudonyms name actors
        page = admin_client.get("/admin/audit/auditevent/")
    assert page.status_code == 200
    assert b"down: server_error" in page.content and b"fake: ok" in page.content
    detail = admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
    assert admin_client.get("/admin/audit/consent/").status_code == 200
    assert b"alice" in admin_client.get("/admin/audit/consent/").content


def test_a_changed_policy_becomes_a_new_version(admin_client, alice):
    consent.grant(alice)
    purpose = Purpose.objects.get(slug="generation")

    admin_client.post(f"/admin/audit/purpose/{purpose.pk}/change/",
                      {"slug": "generation", "title": purpose.title, "policy": "New words."})

    purpose.refresh_from_db()
    assert purpose.version == 2
    assert not consent.is_active(alice)
    assert AuditEvent.objects.filter(kind="policy_published").exists()
    assert log.verify()[1] is None


def test_it_sums_up_a_config_change_by_object_and_fields():
    from audit.admin import change_summary

    assert change_summary({"object": "client", "name": "shop", "action": "updated",
                           "before": {"plan": None, "routes": ["a"]},
                           "after": {"plan": "starter", "routes": ["a", "b"]}}) == \
        "client shop updated: plan, routes"
    assert change_summary({"object": "engine", "name": "llama", "action": "deleted",
                           "before": {"model": "m"}, "after": None}) == "engine llama deleted"
