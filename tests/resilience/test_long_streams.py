"""A stream longer than the deadline is not reaped while it runs, and a run that outlives its
row (reaped, re-run elsewhere) never overwrites it — yet what a client was served is charged.
(Issue 14 #2: before, the reaper failed a long stream and released its reservation, then the
stream's end overwrote the row as succeeded and settled nothing: free tokens.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from dihya.gateway.models import ApiClient, Attempt, Generation
from dihya.generation import ending, jobs, pipeline, reaper, settle
from dihya.generation.requests import ChatBody
from fallbacks.runner import AttemptRecord
from fallbacks.spec import Usage
from quotas.models import Assignment, Limit, Plan, Reservation
from tests.conftest import recorded
from tests.quotas.conftest import usage

LONG_AGO = timezone.now() - dt.timedelta(hours=1)


@pytest.fixture
def caller(db, make_engine, make_route, dead_url):
    route = make_route("default", make_engine(dead_url, name="e"))
    client = ApiClient.objects.create(name="app")
    client.routes.add(route)
    plan = Plan.objects.create(name="p")
    Limit.objects.create(plan=plan, metric="tokens", period="day", amount=10_000, hard=True)
    Assignment.objects.create(plan=plan, client=client)
    return pipeline.Caller(client=client, allowed_routes=frozenset({route.pk}))


def body() -> ChatBody:
    return ChatBody(model="default", stream=True, max_tokens=50,
                    messages=[{"role": "user", "content": "tell me a long story"}])


def used_tokens() -> int:
    return usage(None, "tokens", None)


def served(admission: pipeline.Admission, tokens: int = 700) -> bool:
    return settle.now(ending.succeeded(
        admission, [AttemptRecord(admission.route.engines[0].id, "e", 0, "ok", 5.0)],
        "a long story", "stop", Usage(100, tokens - 100), admission.route.engines[0].id, "e"))


def test_the_reaper_leaves_a_stream_that_beats_alone(caller, monkeypatch):
    monkeypatch.setattr(jobs, "enqueue", lambda g: None)
    admission = pipeline.admit(caller, body())
    Generation.objects.filter(pk=admission.generation.pk).update(started=LONG_AGO)
    pipeline.heartbeat(admission.generation.pk)

    assert reaper.reap()["failed"] == 0
    assert Generation.objects.get(pk=admission.generation.pk).status == "running"


def test_a_stream_served_after_it_was_reaped_is_charged_not_rewritten(caller, monkeypatch):
    monkeypatch.setattr(jobs, "enqueue", lambda g: None)
    admission = pipeline.admit(caller, body())
    gid = admission.generation.pk
    reserved = used_tokens()
    Generation.objects.filter(pk=gid).update(started=LONG_AGO)  # and no heartbeat: lost
    assert reaper.reap()["failed"] == 1
    assert used_tokens() == 0  # released

    assert served(admission) is False  # overtaken: nothing of its own written

    g = Generation.objects.get(pk=gid)
    assert (g.status, g.error_code, g.result) == ("failed", "abandoned", "")
    assert not Attempt.objects.filter(generation_id=gid).exists()
    assert used_tokens() == 700 and reserved > 0  # what was served is charged
    assert Reservation.objects.get(generation_id=gid).state == "settled"
    kinds = list(AuditEvent.objects.filter(generation_id=gid).values_list("kind", "status"))
    assert sorted(kinds) == [("generation", "failed"), ("late_usage", "served_after_reaped")]
    assert served(admission) is False and used_tokens() == 700  # charged once


def test_a_zombie_worker_never_overwrites_the_run_that_replaced_it(caller, monkeypatch):
    handed: list = []
    monkeypatch.setattr(jobs, "enqueue", lambda g: handed.append(g.pk))
    job = pipeline.admit(caller, body().model_copy(update={"stream": False}), queued=True)
    first = jobs.claim(job.generation.pk)  # worker A, which then hangs
    zombie = pipeline.resume(first)
    Generation.objects.filter(pk=first.pk).update(started=LONG_AGO)
    assert reaper.reap()["requeued"] == 1
    second = pipeline.resume(jobs.claim(first.pk))  # worker B
    assert served(second, tokens=300) is True

    assert served(zombie, tokens=900) is False  # A wakes up and finishes

    g = Generation.objects.get(pk=first.pk)
    assert (g.status, g.deliveries, g.completion_tokens) == ("succeeded", 2, 200)
    assert Attempt.objects.filter(generation_id=g.pk).count() == 1
    assert used_tokens() == 300  # B's run, once
    assert AuditEvent.objects.filter(generation_id=g.pk).count() == 1


def test_a_stream_beats_while_it_relays(transactional_db, caller, settings):
    import asyncio

    import httpx
    import respx

    settings.DIHYA_STREAM_HEARTBEAT = 0.0  # beat after every delta
    chunks = [{"choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]}
              for i in range(5)]
    sse = "".join(f"data: {__import__('json').dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    admission = pipeline.admit(caller, body())

    async def relay() -> str:
        streaming = await pipeline.stream(admission)
        return "".join([d.text async for d in streaming.deltas])

    with respx.mock:
        respx.post(url__regex=r".*/chat/completions").mock(
            return_value=httpx.Response(200, text=sse,
                                        headers={"content-type": "text/event-stream"}))
        text = asyncio.run(relay())
    recorded()

    g = Generation.objects.get(pk=admission.generation.pk)
    assert text.startswith("w0 w1") and g.status == "succeeded"
    assert g.heartbeat is not None and g.heartbeat >= g.started
