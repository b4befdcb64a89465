"""Refusals and alerts counted, /metrics from loopback, and the admin's link to a trace."""

from __future__ import annotations

import uuid

import httpx
from django.test import override_settings

from dihya.gateway.models import ApiClient, Generation
from dihya.observability import metrics
from tests.observability.conftest import scrape, value


def test_a_consent_refusal_counts_by_client(api, fake_engine, make_engine, make_route, make_key):
    make_route("default", make_engine(fake_engine, name="fake"), max_tokens=16)
    key = make_key("helpdesk")
    ApiClient.objects.filter(name="helpdesk").update(end_users=True)
    before = scrape(api)  # loopback, no token configured

    refused = httpx.post(api + "/v1/chat/completions", timeout=30,
                         headers={"Authorization": f"Bearer {key}"},
                         json={"model": "default", "messages": [{"role": "user", "content": "hi"}]})

    assert refused.json()["error"]["code"] == "consent_required"
    assert "X-Dihya-Overhead-Ms" in refused.headers
    after = scrape(api)
    assert (value(after, "dihya_consent_refusals_total", client="helpdesk")
            - value(before, "dihya_consent_refusals_total", client="helpdesk")) == 1


def test_an_alert_counts_by_kind(api):
    before = scrape(api)

    metrics.alert_raised(type("Alert", (), {"kind": "threshold"})())

    after = scrape(api)
    assert (value(after, "dihya_alerts_total", kind="threshold")
            - value(before, "dihya_alerts_total", kind="threshold")) == 1


@override_settings(DIHYA_TRACE_URL="http://jaeger.example:16686/trace/{trace_id}")
def test_the_admin_links_a_generation_to_its_trace(admin_client):
    trace_id = uuid.uuid4().hex
    g = Generation.objects.create(source="chat", route_name="default", status="succeeded",
                                  trace_id=trace_id)

    page = admin_client.get(f"/admin/gateway/generation/{g.pk}/change/")

    assert page.status_code == 200
    assert f'href="http://jaeger.example:16686/trace/{trace_id}"' in page.content.decode()
