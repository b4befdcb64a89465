"""Limits of batch lines alone (`batch_requests`, `batch_tokens`, `batch_cost`): charged to
batch lines on counters of their own, never to live calls; the plain limits count both.

Through the real pipeline, with the end written inline and by the batched recorder (as
tests/quotas/test_gate.py)."""

from __future__ import annotations

import httpx
import pytest
import respx
from django.urls import reverse

from dihya import config
from dihya.api import quota
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from dihya.generation import pipeline
from dihya.generation.errors import Refusal
from quotas.models import Assignment, Counter, Plan
from tests.quotas.test_gate import (
    ENGINE,
    REPLY,
    body,
    recording,  # noqa: F401 - the fixture: inline and batched
    run,
    used,
)

BATCH = Generation.Source.BATCH


@pytest.fixture
def route(make_engine, make_route):
    return make_route("default", make_engine(ENGINE, name="fake"), max_tokens=50)


@pytest.fixture
def client(db):
    return ApiClient.objects.create(name="bulk-app")


def test_a_batch_limit_refuses_batch_lines_and_lets_live_calls_through(route, client,
                                                                       make_plan):
    Assignment.objects.create(client=client, plan=make_plan(
        "bulk", (2, "batch_requests", "day"), (100, "requests", "day")))
    line, live = (pipeline.Caller(client=client, source=BATCH),
                  pipeline.Caller(client=client, source=Generation.Source.CHAT))
    pipeline.admit(line, body())
    pipeline.admit(line, body())

    with pytest.raises(Refusal) as refused:
        pipeline.admit(line, body())
    for _ in range(3):
        pipeline.admit(live, body())

    r = refused.value
    assert (r.status, r.code, r.body()["error"]["type"]) == (429, "quota_exceeded",
                                                            "rate_limit_error")
    assert "2 requests of batch lines per day" in r.message and "Retry-After" in r.headers
    subject = f"client:{client.pk}"
    assert used(subject, "batch_requests") == 2
    assert used(subject, "requests") == 5  # the plain limit counts batch lines and live calls


def test_batch_tokens_are_settled_to_the_real_usage_like_tokens(route, client, make_plan):
    Assignment.objects.create(client=client, plan=make_plan(
        "bulk", (10_000, "batch_tokens", "day"), (10_000, "tokens", "day")))
    with respx.mock:
        respx.post(f"{ENGINE}/chat/completions").mock(httpx.Response(200, json=REPLY))
        run(pipeline.admit(pipeline.Caller(client=client, source=BATCH), body()))
        run(pipeline.admit(pipeline.Caller(client=client), body()))

    subject = f"client:{client.pk}"
    assert used(subject, "batch_tokens") == 10  # the engine's count, not the estimate (61)
    assert used(subject, "tokens") == 20


def test_a_failed_batch_line_gives_its_batch_reservation_back(client, make_plan, make_engine,
                                                              make_route, dead_url):
    make_route("default", make_engine(dead_url))
    Assignment.objects.create(client=client, plan=make_plan("one", (1, "batch_requests",
                                                                    "minute")))
    line = pipeline.Caller(client=client, source=BATCH)

    with pytest.raises(Refusal):
        run(pipeline.admit(line, body()))

    assert used(f"client:{client.pk}", "batch_requests") == 0
    pipeline.admit(line, body())  # the line's request came back


def test_an_end_users_default_plan_may_limit_their_batch_lines(route, make_plan,
                                                               django_user_model):
    from audit import consent

    people = ApiClient.objects.create(name="people", end_users=True, user_ids="username")
    consent.grant(django_user_model.objects.create_user("alice"))
    make_plan("people", (1, "batch_requests", "day"), default=True)
    line = pipeline.Caller(client=people, source=BATCH)
    pipeline.admit(line, body(user="alice"))

    with pytest.raises(Refusal) as refused:
        pipeline.admit(line, body(user="alice"))
    pipeline.admit(pipeline.Caller(client=people), body(user="alice"))

    assert "end user" in refused.value.message


def test_the_admin_sets_a_batch_limit(admin_client):
    response = admin_client.post(reverse("admin:quotas_plan_add"), {
        "name": "bulk", "alerts": "",
        "limits-TOTAL_FORMS": "1", "limits-INITIAL_FORMS": "0",
        "limits-0-metric": "batch_tokens", "limits-0-period": "day",
        "limits-0-amount": "5000000", "limits-0-hard": "on"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert [str(limit) for limit in Plan.objects.get().limits.all()] == [
        "5000000 batch_tokens per day"]


def test_a_config_file_sets_batch_limits_and_exports_them(db):
    text = """
plans:
  - {name: bulk, limits: [{batch_tokens: 5000000, per: day}, {tokens: 100000, per: day},
                          {batch_requests: 10000, per: hour, hard: false}]}
"""
    config.apply_yaml(text)

    limits = {(lim.metric, lim.period, lim.amount, lim.hard)
              for lim in Plan.objects.get(name="bulk").limits.all()}
    assert limits == {("batch_tokens", "day", 5_000_000, True), ("tokens", "day", 100_000, True),
                      ("batch_requests", "hour", 10_000, False)}
    [exported] = config.export()["plans"]
    assert {"batch_tokens": 5_000_000, "per": "day", "hard": True} in exported["limits"]
    assert config.apply_yaml(text) == []


def test_the_quota_status_lists_batch_limits(route, client, make_plan):
    Assignment.objects.create(client=client, plan=make_plan("bulk", (3, "batch_requests",
                                                                     "day")))
    pipeline.admit(pipeline.Caller(client=client, source=BATCH), body())
    client.routes.add(route)

    answer = quota.status_for(keys.issue(client)[1], "")

    [standing] = answer["data"]
    assert (standing["metric"], standing["used"], standing["remaining"]) == (
        "batch_requests", 1, 2)
    assert not Counter.objects.filter(metric="requests").exists()
