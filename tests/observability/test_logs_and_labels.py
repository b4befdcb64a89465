"""JSON log lines of a generation, bounded labels, and who may read /metrics without a token."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from django.test import RequestFactory, override_settings

from dihya.gateway.models import Generation
from dihya.observability import metrics, views
from dihya.observability.logs import JsonLines
from tests.conftest import recorded

MARKER = "Zq7-log-marker"


def test_a_generation_ends_with_one_json_line(api, fake_engine, make_engine, make_route,
                                              make_key, caplog):
    make_route("default", make_engine(fake_engine, name="fake"), max_tokens=16)
    key = make_key()
    with caplog.at_level(logging.INFO, logger="dihya.generations"):
        answer = httpx.post(api + "/v1/chat/completions", timeout=30,
                            headers={"Authorization": f"Bearer {key}"},
                            json={"model": "default", "user": f"person-{MARKER}",
                                  "messages": [{"role": "user", "content": MARKER}]})
        recorded()  # the line is logged once the call's end is written
    assert answer.status_code == 200

    [record] = [r for r in caplog.records if r.name == "dihya.generations"]
    line = JsonLines().format(record)
    fields = json.loads(line)
    g = Generation.objects.get()
    assert fields["generation"] == str(g.pk)
    assert fields["route"] == "default" and fields["engine"] == "fake"
    assert fields["status"] == "succeeded" and fields["outcome"] == "ok"
    assert fields["attempts"] == [{"engine": "fake", "outcome": "ok",
                                   "latency_ms": g.attempts.get().latency_ms}]
    assert fields["duration_ms"] >= fields["engine_ms"] >= 0
    assert fields["trace_id"] is None  # tracing is off
    assert fields["level"] == "INFO" and fields["logger"] == "dihya.generations"
    assert MARKER not in line and "person" not in line and key not in line
    assert "\n" not in line


def test_a_plain_record_is_a_json_line_too():
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    assert json.loads(JsonLines().format(record))["message"] == "a b"


@override_settings(DIHYA_METRICS_MAX_LABEL_VALUES=2)
def test_labels_are_bounded(monkeypatch):
    monkeypatch.setattr(metrics, "_seen", {})
    assert [metrics.name("route", r) for r in ("a", "b", "c", "a", "")] == [
        "a", "b", "other", "a", "none"]


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.0.0.7"])
@override_settings(DIHYA_METRICS_TOKEN="", DIHYA_METRICS_ALLOW_LOOPBACK=False)
def test_without_a_token_nobody_may_scrape_not_even_loopback(address):
    """Behind a reverse proxy on the same host every caller is loopback: without a token,
    /metrics is closed unless loopback is explicitly let in."""
    refusal = views.refused(RequestFactory().get("/metrics", REMOTE_ADDR=address))
    assert refusal is not None and refusal.status_code == 403
    assert json.loads(refusal.content)["error"]["code"] == "metrics_token_required"


@pytest.mark.parametrize(("address", "status"), [("127.0.0.1", None), ("::1", None),
                                                   ("10.0.0.7", 403)])
@override_settings(DIHYA_METRICS_TOKEN="", DIHYA_METRICS_ALLOW_LOOPBACK=True)
def test_loopback_may_scrape_without_a_token_when_allowed(address, status):
    refusal = views.refused(RequestFactory().get("/metrics", REMOTE_ADDR=address))
    assert (refusal.status_code if refusal else None) == status


def test_loopback_is_not_allowed_by_default():
    from dihya import settings as read_from_the_environment  # not this package's test override

    assert read_from_the_environment.DIHYA_METRICS_ALLOW_LOOPBACK is False


@override_settings(DIHYA_METRICS_TOKEN="s3cret")
def test_with_a_token_loopback_needs_it_too():
    factory = RequestFactory()
    assert views.refused(factory.get("/metrics")).status_code == 401
    assert views.refused(factory.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")) is None
