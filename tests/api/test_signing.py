"""Each client's callbacks are signed with its own secret, the operator's alerts with theirs,
and every signed body names who it is for, so that no receiver can forge another's."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from dihya.gateway import deliveries, receivers
from dihya.gateway.models import ApiClient, Delivery, Generation
from dihya.generation import callbacks
from dihya.lib import outbound
from quotas.models import Alert

SHARED = "shared-webhook-secret"
HOOK_A, HOOK_B = "http://a.test/hook", "http://b.test/hook"
signing = override_settings(DIHYA_WEBHOOK_SECRET=SHARED, DIHYA_ALLOW_PRIVATE_WEBHOOKS=True,
                            DIHYA_ALERT_WEBHOOK_SECRET="")


def callback_of(client: ApiClient | None, url: str) -> Delivery:
    g = Generation.objects.create(source="job", route_name="default", status="succeeded",
                                  result="hi", client=client, callback_url=url)
    callbacks.announce(g.pk)
    return Delivery.objects.get(generation_id=g.pk)


def sent(route: respx.Route) -> tuple[bytes, str]:
    request = route.calls.last.request
    return request.content, request.headers[outbound.SIGNATURE_HEADER]


@pytest.fixture
def no_hand_over(monkeypatch):
    monkeypatch.setattr(deliveries, "hand_over", lambda *a, **kw: None)


@signing
@respx.mock
def test_a_client_cannot_sign_a_callback_another_client_would_believe(db, no_hand_over):
    a, b = ApiClient(name="a"), ApiClient(name="b")
    secret_a, secret_b = a.new_signing_secret(), b.new_signing_secret()
    a.save()
    b.save()
    hook_a, hook_b = respx.post(HOOK_A).mock(httpx.Response(204)), respx.post(HOOK_B).mock(
        httpx.Response(204))

    for client, url in ((a, HOOK_A), (b, HOOK_B)):
        assert deliveries.deliver(str(callback_of(client, url).pk)) == "delivered"

    body_a, header_a = sent(hook_a)
    body_b, header_b = sent(hook_b)
    assert outbound.verify(body_a, header_a, secret_a)
    assert outbound.verify(body_b, header_b, secret_b)
    assert not outbound.verify(body_b, header_b, secret_a)  # A cannot forge B's
    assert not outbound.verify(body_b, header_b, SHARED)
    assert secret_a.startswith("whsec_") and secret_a not in a.signing_secret
    assert json.loads(body_b)["dihya"] == {"kind": "job.callback", "client": "b", "url": HOOK_B}


@signing
@respx.mock
def test_a_client_from_before_its_own_secret_signs_with_the_shared_one(db, no_hand_over):
    old = ApiClient.objects.create(name="old")
    ApiClient.objects.filter(pk=old.pk).update(signing_secret="")  # as migrated
    old.refresh_from_db()
    hook = respx.post(HOOK_A).mock(httpx.Response(204))

    assert deliveries.deliver(str(callback_of(old, HOOK_A).pk)) == "delivered"
    assert outbound.verify(*sent(hook), SHARED)


@signing
def test_a_callback_whose_client_is_gone_is_not_sent(db, no_hand_over):
    delivery = callback_of(None, HOOK_A)

    assert deliveries.deliver(str(delivery.pk)) == "failed"
    delivery.refresh_from_db()
    assert delivery.error.startswith("refused:")


@override_settings(DIHYA_WEBHOOK_SECRET="", DIHYA_ALERT_WEBHOOK_SECRET="",
                   DIHYA_ALLOW_PRIVATE_WEBHOOKS=True)
@respx.mock
def test_nothing_is_sent_unsigned(db, no_hand_over):
    hook = respx.post(HOOK_A).mock(httpx.Response(204))
    old = ApiClient.objects.create(name="old")
    ApiClient.objects.filter(pk=old.pk).update(signing_secret="")
    old.refresh_from_db()
    alert = Delivery.objects.create(kind=Delivery.Kind.ALERT, target=HOOK_A, payload={})

    for delivery in (alert, callback_of(old, HOOK_A)):
        assert deliveries.deliver(str(delivery.pk)) == "failed"
        delivery.refresh_from_db()
        assert "would be unsigned" in delivery.error
    assert not hook.called


@pytest.mark.parametrize("alert_secret, verifies_with", [("alert-secret", "alert-secret"),
                                                         ("", SHARED)])
@respx.mock
def test_alerts_are_signed_with_the_operators_own_secret(db, no_hand_over, settings,
                                                         alert_secret, verifies_with):
    settings.DIHYA_WEBHOOK_SECRET = SHARED
    settings.DIHYA_ALERT_WEBHOOK_SECRET = alert_secret
    settings.DIHYA_ALLOW_PRIVATE_WEBHOOKS = True
    settings.DIHYA_ALERT_WEBHOOKS = [HOOK_A]
    settings.DIHYA_ALERT_EMAILS = []
    hook = respx.post(HOOK_A).mock(httpx.Response(204))
    alert = Alert.objects.create(subject="client:1", threshold=80, used=8, amount=10,
                                 window_start=timezone.now(), message="80 %")
    receivers.alert_raised(None, alert=alert)

    assert deliveries.deliver(str(Delivery.objects.get(alert_id=alert.pk).pk)) == "delivered"
    body, header = sent(hook)
    assert outbound.verify(body, header, verifies_with)
    assert json.loads(body)["dihya"] == {"kind": "quota.alert", "client": None, "url": HOOK_A}


def test_the_admin_rotates_a_signing_secret_and_shows_it_once(admin_client, db):
    client = ApiClient.objects.create(name="billing")
    before = client.signing_key()

    response = admin_client.post("/admin/gateway/apiclient/", {
        "action": "rotate_signing_secrets", "_selected_action": [client.pk]})

    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    [(shown_for, raw)] = response.context["secrets"]
    client.refresh_from_db()
    assert shown_for == client and raw.encode() in response.content
    assert client.signing_key() == raw != before
    assert raw not in client.signing_secret
    assert raw.encode() not in admin_client.get(
        f"/admin/gateway/apiclient/{client.pk}/change/").content


def test_the_admin_shows_a_new_clients_secret_once(admin_client, db):
    response = admin_client.post("/admin/gateway/apiclient/add/", {
        "name": "billing", "active": "on", "user_ids": "client", "keys-TOTAL_FORMS": "0",
        "keys-INITIAL_FORMS": "0", "quota_assignment-TOTAL_FORMS": "0",
        "quota_assignment-INITIAL_FORMS": "0"})

    assert response.status_code == 200, response.content[:500]
    [(client, raw)] = response.context["secrets"]
    assert client.name == "billing" and client.signing_key() == raw


def test_the_command_rotates_a_secret_and_prints_it_last(db, capsys):
    client = ApiClient.objects.create(name="billing")

    call_command("rotate_signing_secret", "billing")

    raw = capsys.readouterr().out.strip().splitlines()[-1]
    client.refresh_from_db()
    assert client.signing_key() == raw


def test_a_rotation_of_the_encryption_key_keeps_every_signing_secret(db, settings):
    from cryptography.fernet import Fernet

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DIHYA_ENCRYPTION_KEY = old
    client = ApiClient(name="billing")
    raw = client.new_signing_secret()
    client.save()

    settings.DIHYA_ENCRYPTION_KEY = f"{new},{old}"
    call_command("rotate_keys")
    settings.DIHYA_ENCRYPTION_KEY = new

    client.refresh_from_db()
    assert client.signing_key() == raw
