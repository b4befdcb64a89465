"""The batched recorder's writes, batch by batch: the fence, and a batch that fails.

The runs are handed over as the API hands them (`pipeline.close` in batched mode), caught
before the writer thread sees them, and written here with `recorder.write` (`settle.write`,
the one writer's batch entry), so that the test reads the rows in its own transaction. The
thread itself is exercised by tests/api/test_batched_recording.py and
tests/faults/test_recorder_killed.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import httpx
import pytest
import respx
from django.utils import timezone

from audit import log as audit_log
from audit.models import AuditEvent
from dihya.gateway.models import ApiClient, Attempt, Generation
from dihya.generation import ending, jobs, pipeline, reaper, recorder
from dihya.generation.requests import ChatBody
from quotas.models import Assignment, Limit, Plan, Reservation
from tests.quotas.conftest import usage

ENGINE = "http://engine.test/v1"
REPLY = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
LONG_AGO = timezone.now() - dt.timedelta(hours=1)


@pytest.fixture
def caller(db, make_engine, make_route):
    route = make_route("default", make_engine(ENGINE, name="fake"), max_tokens=50)
    client = ApiClient.objects.create(name="app")
    client.routes.add(route)
    plan = Plan.objects.create(name="p")
    Limit.objects.create(plan=plan, metric="tokens", period="day", amount=10_000)
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=100)
    Assignment.objects.create(plan=plan, client=client)
    return pipeline.Caller(client=client, allowed_routes=frozenset({route.pk}),
                           source=Generation.Source.CHAT)


@pytest.fixture
def handed(monkeypatch, settings) -> list[recorder.Ended]:
    """What the API hands to the recorder, kept from its thread."""
    settings.DIHYA_RECORDER = "batched"
    runs: list[recorder.Ended] = []
    monkeypatch.setattr(recorder.recorder, "submit", runs.append)
    return runs


@respx.mock
def served(caller: pipeline.Caller, n: int) -> list[pipeline.Admission]:
    respx.post(ENGINE + "/chat/completions").mock(httpx.Response(200, json=REPLY))
    admissions = []
    for _ in range(n):
        admission = pipeline.admit(caller, ChatBody(
            model="default", max_tokens=20, messages=[{"role": "user", "content": "Say hi"}]))
        ended = ending.end_of(admission, asyncio.run(pipeline.execute(admission)))
        asyncio.run(pipeline.close(ended))
        admissions.append(admission)
    return admissions


def used(metric: str) -> int:
    return usage(None, metric, None)


def test_handing_over_writes_nothing_until_the_batch(caller, handed):
    [admission] = served(caller, 1)

    assert len(handed) == 1
    assert Generation.objects.get(pk=admission.generation.pk).status == "running"
    recorder.write(handed)
    g = Generation.objects.get(pk=admission.generation.pk)
    assert (g.status, g.result, g.prompt_tokens, g.completion_tokens) == ("succeeded", "Hi", 7, 3)
    assert Attempt.objects.filter(generation_id=g.pk, outcome="ok").count() == 1
    assert used("tokens") == 10 and used("requests") == 1
    assert Reservation.objects.get(generation_id=g.pk).state == "settled"


def test_a_run_reaped_before_its_batch_is_overtaken(caller, handed, monkeypatch):
    monkeypatch.setattr(jobs, "enqueue", lambda g: None)
    lost, kept = served(caller, 2)
    estimate = reserved_tokens(lost)
    Generation.objects.filter(pk=lost.generation.pk).update(started=LONG_AGO)
    assert reaper.reap()["failed"] == 1
    # Its answer may have left (a plain call's row cannot say): charged its reservation.
    assert Reservation.objects.get(generation_id=lost.generation.pk).state == "settled"
    assert used("requests") == 2

    recorder.write(handed)

    g = Generation.objects.get(pk=lost.generation.pk)
    assert (g.status, g.error_code, g.result) == ("failed", "abandoned", "")  # not rewritten
    assert not Attempt.objects.filter(generation_id=g.pk).exists()
    assert Reservation.objects.get(generation_id=g.pk).state == "settled"  # charged, once
    assert sorted(AuditEvent.objects.filter(generation_id=g.pk).values_list("kind", "status")) \
        == [("generation", "failed"), ("late_usage", "served_after_reaped")]
    assert Generation.objects.get(pk=kept.generation.pk).status == "succeeded"
    assert used("tokens") == estimate + 10 and used("requests") == 2  # each call counted once
    recorder.write(handed)  # handed twice: nothing moves
    assert used("tokens") == estimate + 10 and used("requests") == 2
    assert audit_log.verify()[1] is None


def reserved_tokens(admission: pipeline.Admission) -> int:
    held = Reservation.objects.get(generation_id=admission.generation.pk).held
    return next(h["n"] for h in held if h["metric"] == "tokens")


def test_a_batch_that_fails_is_written_run_by_run(caller, handed, caplog):
    first, bad, last = served(caller, 3)
    bad.generation.tool_calls = [object()]  # cannot be stored: its row's write raises

    with caplog.at_level(logging.ERROR, logger="dihya.generation.recorder"):
        recorder.write(handed)

    statuses = dict(Generation.objects.values_list("pk", "status"))
    assert statuses[first.generation.pk] == statuses[last.generation.pk] == "succeeded"
    assert statuses[bad.generation.pk] == "running"  # left to the reaper, and said so
    assert Reservation.objects.get(generation_id=bad.generation.pk).state == "reserved"
    assert AuditEvent.objects.filter(kind="generation").count() == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("could not be written together" in m for m in messages)
    assert any(str(bad.generation.pk) in m and "reaper" in m for m in messages)
    assert audit_log.verify()[1] is None
