"""How many SQL statements one generation costs, with the whole pipeline on.

A chat completion through the API makes two synchronous hops (`admit_chat`: key check and
admission; `pipeline.record`: settlement, rows, audit), and the engine call between them
touches no database. This pins the number of statements of each hop for a warm process (the
key and the plans already remembered), so that a change that adds queries to every request is
seen in review rather than in production. The numbers in docs/benchmarks.md come from the same
path under load.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from audit import consent
from audit.models import AuditEvent
from dihya.api.openai import admit_chat
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Attempt, Generation
from dihya.generation import pipeline
from dihya.generation.requests import ChatBody
from quotas.models import Assignment, Counter, Limit, Plan

ENGINE = "http://engine.test/v1"
REPLY = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}

# Statements per hop for a warm process, counted on SQLite inside the test's transaction (so
# the hops' transactions show as savepoints: 4 of the 10 and 6 of the 15). Admission reads
# nothing (route, person and consent are remembered: fallbacks.catalog, generation.identity):
# it reserves the four counters and writes the reservation and the generation. Raise only
# with a reason in the commit message.
ADMIT_BUDGET = 10
RECORD_BUDGET = 15


@pytest.fixture
def key(db, make_engine, make_route) -> str:
    route = make_route("default", make_engine(ENGINE, name="fake"), max_tokens=50)
    client = ApiClient.objects.create(name="app", end_users=True, user_ids="username")
    client.routes.add(route)
    for name, default in (("client-plan", False), ("people", True)):
        plan = Plan.objects.create(name=name, is_default=default)
        Limit.objects.create(plan=plan, metric="requests", period="day", amount=1000)
        Limit.objects.create(plan=plan, metric="tokens", period="minute", amount=10**6)
        if not default:
            Assignment.objects.create(plan=plan, client=client)
    consent.grant(get_user_model().objects.create(username="alice"))
    return keys.issue(client)[1]


def generate(key: str) -> tuple[list[str], list[str]]:
    body = ChatBody(model="default", messages=[{"role": "user", "content": "Say hi"}],
                    user="alice", max_tokens=20)
    with CaptureQueriesContext(connection) as admitting:
        admission = admit_chat(key, body)
    outcome = asyncio.run(pipeline.execute(admission))
    with CaptureQueriesContext(connection) as recording:
        pipeline.record(admission, outcome)
    return ([q["sql"] for q in admitting.captured_queries],
            [q["sql"] for q in recording.captured_queries])


# What a process remembers for a few seconds (keys, plans, breakers) must stay remembered
# between the two calls however slow the machine: the budget is for the warm path.
@override_settings(DIHYA_KEY_CACHE_SECONDS=3600, DIHYA_PLAN_CACHE_SECONDS=3600,
                   DIHYA_BREAKER_REFRESH=3600)
@respx.mock
def test_it_keeps_a_generation_within_its_statement_budget(key):
    respx.post(ENGINE + "/chat/completions").mock(httpx.Response(200, json=REPLY))
    generate(key)  # the first call loads the key, plans and breakers into memory

    admit, record = generate(key)

    assert len(admit) <= ADMIT_BUDGET, "\n".join(admit)
    assert len(record) <= RECORD_BUDGET, "\n".join(record)
    # …and the statements did their work: both calls fully recorded and accounted.
    assert Generation.objects.filter(status="succeeded").count() == 2
    assert Attempt.objects.filter(outcome="ok").count() == 2
    assert AuditEvent.objects.filter(kind="generation").count() == 2
    assert Counter.objects.filter(metric="requests").values_list("used", flat=True).distinct() \
        .get() == 2


# The batched recorder (DIHYA_RECORDER = "batched", dihya.generation.recorder) writes many
# generations' ends in one transaction: statements per batch of BATCH, counted alike (its
# transaction shows as a savepoint here): 13 for 10 (2 of them savepoints), 1.3 per
# generation against 15 inline.
BATCH = 10
BATCH_BUDGET = 13


@override_settings(DIHYA_KEY_CACHE_SECONDS=3600, DIHYA_PLAN_CACHE_SECONDS=3600,
                   DIHYA_BREAKER_REFRESH=3600)
@respx.mock
def test_it_keeps_a_batch_of_generations_within_its_statement_budget(key):
    from dihya.generation import ending, recorder

    respx.post(ENGINE + "/chat/completions").mock(httpx.Response(200, json=REPLY))
    generate(key)  # warm, as above
    handed: list = []
    body = ChatBody(model="default", messages=[{"role": "user", "content": "Say hi"}],
                    user="alice", max_tokens=20)
    for _ in range(BATCH):
        admission = admit_chat(key, body)
        handed.append(ending.end_of(admission, asyncio.run(pipeline.execute(admission))))

    with CaptureQueriesContext(connection) as writing:
        recorder.write(handed)

    statements = [q["sql"] for q in writing.captured_queries]
    assert len(statements) <= BATCH_BUDGET, "\n".join(statements)
    assert Generation.objects.filter(status="succeeded").count() == BATCH + 1
    assert Attempt.objects.filter(outcome="ok").count() == BATCH + 1
    assert AuditEvent.objects.filter(kind="generation").count() == BATCH + 1
    assert Counter.objects.filter(metric="requests").values_list("used", flat=True).distinct() \
        .get() == BATCH + 1
    assert sorted(Counter.objects.filter(metric="tokens").values_list("used", flat=True)) \
        == [10 * (BATCH + 1)] * 2
