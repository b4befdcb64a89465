"""The quota step through the real pipeline: reserve at admission, settle at the end, 429s.

Every test runs twice: with the end written inline, and written by the batched recorder's
batch write (`recorder.write`, called at once here rather than on the recorder's thread), so
that settlement through `ledger.close_many` is held to the same exact counts."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx
from django.contrib.auth import get_user_model

from audit import consent
from dihya.gateway.models import ApiClient, Generation
from dihya.generation import ending, pipeline, recorder, settle
from dihya.generation.errors import Refusal
from dihya.generation.requests import ChatBody
from dihya.lib.pseudonyms import pseudonym
from fallbacks.runner import RunFailed
from quotas.models import Assignment, Counter, Period, Reservation
from tests.quotas.conftest import usage

ENGINE = "http://engine.test/v1"
REPLY = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}


@pytest.fixture
def route(make_engine, make_route):
    return make_route("default", make_engine(ENGINE, name="fake"), max_tokens=50)


@pytest.fixture
def client(db):
    return ApiClient.objects.create(name="billing-app")


def body(user: str = "", content: str = "x" * 40, **extra) -> ChatBody:
    return ChatBody(model="default", messages=[{"role": "user", "content": content}],
                    user=user or None, **extra)


def used(subject: str, metric: str) -> int:
    return sum(usage(subject, metric, period) for period in Period.values)


@pytest.fixture(autouse=True, params=["inline", "batched"])
def recording(request, settings, monkeypatch) -> str:
    settings.DIHYA_RECORDER = request.param
    monkeypatch.setattr(recorder.recorder, "submit", lambda ended: recorder.write([ended]))
    return request.param


def run(admission: pipeline.Admission) -> None:
    """The end written as the API writes it — alone at once (inline) or handed to the
    recorder (batched, written here at once as a batch) — by the same writer, `settle`."""
    outcome = asyncio.run(pipeline.execute(admission))
    ended = ending.end_of(admission, outcome)
    if recorder.batched():
        recorder.submit(ended)
    else:
        settle.now(ended)
    if isinstance(outcome, RunFailed):
        raise pipeline.refusal_for(outcome, admission.request)


def test_it_refuses_an_exhausted_client_with_a_429_and_calls_no_engine(route, client, make_plan):
    Assignment.objects.create(client=client, plan=make_plan("starter", (2, "requests", "minute"),
                                                            (10_000, "tokens", "day")))
    caller = pipeline.Caller(client=client)
    with respx.mock(assert_all_called=False) as mock:
        engine = mock.post(f"{ENGINE}/chat/completions").mock(httpx.Response(200, json=REPLY))
        first = pipeline.admit(caller, body())
        run(first)
        pipeline.admit(caller, body())

        with pytest.raises(Refusal) as refused:
            pipeline.admit(caller, body())

        assert engine.call_count == 1
    r = refused.value
    assert r.status == 429
    error = r.body()["error"]
    assert error["code"] == "quota_exceeded" and error["type"] == "rate_limit_error"
    assert "2 requests per minute" in error["message"] and "used 2/2" in error["message"]
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.headers["x-ratelimit-limit-requests"] == "2"
    assert r.headers["x-ratelimit-remaining-requests"] == "0"
    assert Generation.objects.count() == 2

    headers = first.headers
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "1"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    assert headers["x-ratelimit-limit-tokens"] == "10000"
    # reserved: ceil((4 + 40) / 4) + max_tokens 50 = 61; the first call settled to 10.
    assert headers["x-ratelimit-remaining-tokens"] == str(10_000 - 61)
    assert used(f"client:{client.pk}", "tokens") == 10 + 61


@pytest.fixture
def people_app(db):
    """A client that serves end users and names them by their Dihya usernames."""
    return ApiClient.objects.create(name="people-app", end_users=True, user_ids="username")


def consenting(*usernames: str) -> None:
    for name in usernames:
        consent.grant(get_user_model().objects.create_user(name))


def test_it_applies_the_client_and_the_end_user_limits_together(route, people_app, make_plan):
    Assignment.objects.create(client=people_app, plan=make_plan("app", (100, "requests", "day")))
    make_plan("people", (1, "requests", "day"), default=True)
    consenting("alice", "bob")
    caller = pipeline.Caller(client=people_app)

    pipeline.admit(caller, body(user="alice"))
    with pytest.raises(Refusal) as refused:
        pipeline.admit(caller, body(user="alice"))
    pipeline.admit(caller, body(user="bob"))

    assert "end user" in refused.value.message
    assert used(f"client:{people_app.pk}", "requests") == 2
    assert used(f"user:{pseudonym('alice')}", "requests") == 1
    assert not Counter.objects.filter(subject__contains="alice").exists()


def test_it_charges_nobody_for_a_client_that_serves_no_end_users(route, client, make_plan,
                                                                 django_user_model):
    make_plan("people", (1, "requests", "day"), default=True)
    alice = django_user_model.objects.create_user("alice")

    first = pipeline.admit(pipeline.Caller(client=client), body(user="alice"))
    pipeline.admit(pipeline.Caller(client=client), body(user="alice"))

    assert first.generation.user is None  # a label, not a person
    assert not Counter.objects.exists() and not Reservation.objects.exists()
    assert not Generation.objects.filter(user=alice).exists()


def test_it_gives_an_account_its_own_plan_instead_of_the_default(route, people_app, make_plan):
    make_plan("people", (1, "requests", "day"), default=True)
    consenting("carol")
    carol = get_user_model().objects.get(username="carol")
    Assignment.objects.create(user=carol, plan=make_plan("vip", (3, "requests", "day")))
    caller = pipeline.Caller(client=people_app)

    for _ in range(3):
        pipeline.admit(caller, body(user="carol"))
    with pytest.raises(Refusal):
        pipeline.admit(caller, body(user="carol"))


def test_it_releases_the_reservation_of_a_failed_call(client, make_plan, make_engine,
                                                      make_route, dead_url):
    make_route("default", make_engine(dead_url))
    Assignment.objects.create(client=client, plan=make_plan("one", (1, "requests", "minute")))
    caller = pipeline.Caller(client=client)

    admission = pipeline.admit(caller, body())
    with pytest.raises(Refusal) as failed:
        run(admission)

    assert failed.value.status == 503
    assert used(f"client:{client.pk}", "requests") == 0
    pipeline.admit(caller, body())  # the slot came back


def test_it_refuses_a_job_at_submission(route, client, make_plan):
    Assignment.objects.create(client=client, plan=make_plan("one", (1, "requests", "minute")))
    caller = pipeline.Caller(client=client, source=Generation.Source.JOB)
    pipeline.admit(caller, body(), queued=True)

    with pytest.raises(Refusal) as refused:
        pipeline.admit(caller, body(), queued=True)

    assert refused.value.code == "quota_exceeded"
    assert Generation.objects.count() == 1


def test_it_counts_nothing_for_callers_without_a_plan(route, client):
    admission = pipeline.admit(pipeline.Caller(client=client), body(user="dave"))

    assert not admission.headers
    assert not Counter.objects.exists() and not Reservation.objects.exists()


def test_it_counts_cost_at_the_price_of_the_engine_that_served(route, client, make_plan):
    from quotas.models import EnginePrice

    EnginePrice.objects.create(engine=route.engines.get(), input_per_million=2,
                               output_per_million=10)
    Assignment.objects.create(client=client, plan=make_plan("paid", (10_000, "cost", "month")))
    with respx.mock:
        respx.post(f"{ENGINE}/chat/completions").mock(httpx.Response(200, json=REPLY))
        admission = pipeline.admit(pipeline.Caller(client=client), body())
        # reserved: 11 prompt tokens x 2 + 50 completion tokens x 10 = 522 millionths
        assert used(f"client:{client.pk}", "cost") == 522
        run(admission)

    assert used(f"client:{client.pk}", "cost") == 7 * 2 + 3 * 10
