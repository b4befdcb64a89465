"""Alerts: raised once on commit, delivered by email and signed webhooks, retried, logged.

Delivery is the gateway's one deliverer (dihya.gateway.deliveries), the same for job callbacks."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx
import pytest
import respx
from django.core import mail
from django.test import override_settings
from django_q.models import Schedule

from dihya.gateway import deliveries as delivery
from dihya.gateway.models import Delivery
from dihya.lib import outbound
from quotas import alerts, ledger
from quotas.models import Alert
from tests.quotas.conftest import NOON, bound

HOOK = "http://hooks.test/dihya"
SECRET = "whsec-test"
channels = override_settings(DIHYA_ALERT_EMAILS=["ops@example.org"],
                             DIHYA_ALERT_WEBHOOK_SECRET=SECRET,
                             DIHYA_ALERT_WEBHOOKS=[HOOK], DIHYA_WEBHOOK_SECRET=SECRET,
                             DIHYA_ALLOW_PRIVATE_WEBHOOKS=True)


def reserve(n: int, limits, **kw) -> None:
    for _ in range(n):
        ledger.reserve(uuid.uuid4(), limits, {"requests": 1}, now=NOON, **kw)


@channels
def test_it_alerts_once_per_threshold_when_the_transaction_commits(
        db, django_capture_on_commit_callbacks, monkeypatch):
    handed: list[str] = []
    monkeypatch.setattr(delivery, "hand_over", lambda pk, **kw: handed.append(str(pk)))
    limits = [bound(10, alerts=(50, 80, 100))]

    with django_capture_on_commit_callbacks(execute=True):
        reserve(10, limits)
        with pytest.raises(ledger.QuotaExceeded):
            reserve(1, limits)

    assert list(Alert.objects.order_by("threshold").values_list("threshold", "used")) == [
        (50, 5), (80, 8), (100, 10)]
    alert = Alert.objects.get(threshold=80)
    assert alert.subject == "client:1" and "80 %" in alert.message
    assert sorted(Delivery.objects.filter(alert_id=alert.pk)
                  .values_list("channel", flat=True)) == ["email", "webhook"]
    assert len(handed) == 6


def test_it_raises_nothing_for_a_refused_call(db, django_capture_on_commit_callbacks):
    with (django_capture_on_commit_callbacks(execute=True) as callbacks,
          pytest.raises(ledger.QuotaExceeded)):
        ledger.reserve(uuid.uuid4(), [bound(0, alerts=(100,))], {"requests": 1}, now=NOON)
    assert callbacks == [] and not Alert.objects.exists()


def alert_with(channel: str, target: str) -> Delivery:
    alert = Alert.objects.create(subject="user:p_abc", metric="tokens", period="day",
                                 threshold=80, window_start=NOON, amount=100, used=80,
                                 message="user:p_abc reached 80 %")
    payload = (alerts.payload(alert) if channel == "webhook"
               else {"subject": f"[Dihya] {alert.message}", "message": alert.message})
    return Delivery.objects.create(kind="quota.alert", channel=channel, target=target,
                                   alert_id=alert.pk, payload=payload)


@channels
def test_it_sends_the_email(db):
    d = alert_with("email", "ops@example.org")

    assert delivery.deliver(str(d.pk)) == "delivered"

    [message] = mail.outbox
    assert message.to == ["ops@example.org"] and "80 %" in message.subject


@channels
@respx.mock
def test_it_signs_the_webhook_so_a_receiver_can_verify_it(db):
    hook = respx.post(HOOK).mock(httpx.Response(204))
    d = alert_with("webhook", HOOK)

    assert delivery.deliver(str(d.pk)) == "delivered"

    request = hook.calls.last.request
    header = request.headers["X-Dihya-Signature"]
    assert outbound.verify(request.content, header, SECRET)
    assert not outbound.verify(request.content, header, "another-secret")
    assert not outbound.verify(request.content.replace(b"80", b"81"), header, SECRET)
    sent = json.loads(request.content)
    assert sent["type"] == "quota.alert"
    assert sent["alert"]["subject"] == "user:p_abc" and sent["alert"]["threshold"] == 80
    d.refresh_from_db()
    assert (d.attempts, d.response_code, d.status) == (1, 204, "delivered")


@channels
@respx.mock
def test_it_retries_a_failed_webhook_with_backoff_then_delivers(db):
    hook = respx.post(HOOK).mock(side_effect=[httpx.Response(500), httpx.ConnectError("down"),
                                              httpx.Response(200)])
    d = alert_with("webhook", HOOK)

    assert delivery.deliver(str(d.pk)) == "pending"
    d.refresh_from_db()
    assert (d.attempts, d.response_code, d.error) == (1, 500, "HTTP 500")
    first = Schedule.objects.get(name=f"delivery {d.pk} #2")
    assert first.func == "dihya.tasks.deliver" and first.next_run == d.next_attempt
    assert delivery.deliver(str(d.pk)) == "pending"
    second = Schedule.objects.get(name=f"delivery {d.pk} #3")
    assert second.next_run - first.next_run > dt.timedelta(seconds=60)  # backing off

    assert delivery.deliver(str(d.pk)) == "delivered"
    assert delivery.deliver(str(d.pk)) == "delivered"  # a re-delivered task sends nothing

    d.refresh_from_db()
    assert (d.attempts, d.status, d.response_code) == (3, "delivered", 200)
    assert hook.call_count == 3


@channels
@respx.mock
def test_it_gives_up_after_the_last_attempt(db):
    respx.post(HOOK).mock(httpx.Response(503))
    d = alert_with("webhook", HOOK)

    statuses = [delivery.deliver(str(d.pk)) for _ in range(delivery.MAX_ATTEMPTS + 1)]

    assert statuses[-2:] == ["failed", "failed"]
    d.refresh_from_db()
    assert d.attempts == delivery.MAX_ATTEMPTS


@override_settings(DIHYA_WEBHOOK_SECRET=SECRET, DIHYA_ALLOW_PRIVATE_WEBHOOKS=False)
def test_it_refuses_a_private_webhook_for_good(db):
    d = alert_with("webhook", "http://127.0.0.1:9/hook")

    assert delivery.deliver(str(d.pk)) == "failed"
    d.refresh_from_db()
    assert d.error.startswith("refused:") and d.attempts == 1


@channels
def test_it_alerts_once_that_an_engine_is_out_of_quota(db, monkeypatch):
    monkeypatch.setattr(delivery, "hand_over", lambda pk, **kw: None)
    until = dt.datetime(2025, 3, 14, 13, 0, 0, 123, tzinfo=dt.UTC)

    first = alerts.engine_out_of_quota("openai-main", until, "insufficient_quota")
    again = alerts.engine_out_of_quota("openai-main", until)

    assert first is not None and again is None
    assert first.message == ("Engine openai-main is out of quota until 2025-03-14T13:00:00+00:00"
                             " (insufficient_quota)")
    assert first.kind == "engine_quota"
    assert Delivery.objects.filter(alert_id=first.pk).count() == 2


def test_it_acknowledges_open_alerts(db):
    alert_with("email", "x")
    assert alerts.acknowledge(Alert.objects.all(), "admin") == 1
    assert alerts.acknowledge(Alert.objects.all(), "admin") == 0
    assert Alert.objects.get().acknowledged_by == "admin"


def test_it_alerts_when_settling_carries_usage_over_a_threshold(
        db, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(delivery, "hand_over", lambda pk, **kw: None)
    gid = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        ledger.reserve(gid, [bound(1000, "tokens", "day", alerts=(80,))], {"tokens": 100},
                       now=NOON)
        ledger.settle(gid, tokens=900)

    alert = Alert.objects.get()
    assert (alert.threshold, alert.used, alert.window_start) == (80, 900, NOON.replace(
        hour=0, minute=0, second=0))
