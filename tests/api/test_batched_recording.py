"""The batched recorder writes exactly what inline recording writes, only later and together.

Concurrent calls through the live API (non-streamed, streamed, refused by the engine) are
made once with DIHYA_RECORDER = "inline" and once "batched", each for its own client; once the
recorder has flushed, the rows, attempts, audit events, counters and reservations of the two
clients must be the same, and the audit chain must verify. The engine is faked at our own
boundary (respx), so that both runs get the same answers.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter as Tally
from typing import Any

import httpx
import pytest
import respx

from audit import log as audit_log
from audit.models import AuditEvent
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Attempt, Generation
from dihya.generation import recorder
from fallbacks.models import Route
from quotas.models import Assignment, Counter, Limit, Plan, Reservation

ENGINE = "http://engine.test/v1"
REFUSING = "http://refusing.test/v1"
REPLY = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
CHUNKS = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
          {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
          {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2,
                                    "total_tokens": 9}}]
SSE = "".join(f"data: {json.dumps(c)}\n\n" for c in CHUNKS) + "data: [DONE]\n\n"
PLAIN, STREAMED, REFUSED = 8, 4, 2


def engine_answer(request: httpx.Request) -> httpx.Response:
    if json.loads(request.content).get("stream"):
        return httpx.Response(200, text=SSE, headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json=REPLY)


@pytest.fixture
def engines(api, make_engine, make_route):
    make_route("default", make_engine(ENGINE, name="fake"), max_tokens=50)
    make_route("refusing", make_engine(REFUSING, name="refuser"), max_tokens=50)
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()  # the live server itself
        mock.post(ENGINE + "/chat/completions").mock(side_effect=engine_answer)
        mock.post(REFUSING + "/chat/completions").mock(
            httpx.Response(400, json={"error": {"message": "no", "type": "invalid_request"}}))
        yield


def client_with_quota(name: str) -> str:
    client = ApiClient.objects.create(name=name)
    client.routes.add(*Route.objects.all())
    plan = Plan.objects.create(name=f"plan-{name}")
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=1000)
    Limit.objects.create(plan=plan, metric="tokens", period="minute", amount=10**6)
    Assignment.objects.create(plan=plan, client=client)
    return keys.issue(client)[1]


async def calls(api: str, key: str) -> list[int]:
    auth = {"Authorization": f"Bearer {key}"}

    async def one(sdk: httpx.AsyncClient, route: str, stream: bool) -> int:
        body = {"model": route, "max_tokens": 20, "stream": stream,
                "messages": [{"role": "user", "content": "Say hi"}]}
        async with sdk.stream("POST", api + "/v1/chat/completions", json=body,
                              headers=auth) as response:
            await response.aread()
            return response.status_code

    async with httpx.AsyncClient(timeout=30) as sdk:
        return await asyncio.gather(*[one(sdk, "default", False) for _ in range(PLAIN)],
                                    *[one(sdk, "default", True) for _ in range(STREAMED)],
                                    *[one(sdk, "refusing", False) for _ in range(REFUSED)])


def counted(counters: Any) -> list[tuple[str, str, int]]:
    """Usage per metric and period, summed over windows: a run may cross a minute."""
    totals: Tally = Tally()
    for metric, period, used in counters.values_list("metric", "period", "used"):
        totals[(metric, period)] += used
    return sorted((metric, period, used) for (metric, period), used in totals.items())


def recorded(name: str) -> dict[str, Any]:
    """What was written for this client's calls, without ids, times or its name."""
    client = ApiClient.objects.get(name=name)
    gens = Generation.objects.filter(client=client)
    ids = list(gens.values_list("pk", flat=True))
    events = AuditEvent.objects.filter(generation_id__in=ids)
    return {
        "generations": sorted(gens.values_list(
            "status", "stream", "result", "finish_reason", "prompt_tokens",
            "completion_tokens", "engine_name", "error_code", "route_name")),
        "attempts": sorted(Attempt.objects.filter(generation_id__in=ids).values_list(
            "engine_name", "position", "outcome", "status_code")),
        "events": sorted((e.kind, e.route, e.engine, e.status, e.prompt_tokens,
                          e.completion_tokens, json.dumps(e.attempts and [
                              (a["engine"], a["outcome"]) for a in e.attempts]),
                          json.dumps(e.details, sort_keys=True)) for e in events),
        "counters": counted(Counter.objects.filter(subject=f"client:{client.pk}")),
        "reservations": Tally(Reservation.objects.filter(generation_id__in=ids)
                              .values_list("state", flat=True)),
    }


def test_it_writes_what_inline_recording_writes(api, engines, settings, monkeypatch):
    settings.DIHYA_RECORDER = "inline"
    assert asyncio.run(calls(api, client_with_quota("inline"))) == \
        [200] * (PLAIN + STREAMED) + [400] * REFUSED
    inline = recorded("inline")

    sizes: list[int] = []
    write = recorder.write
    monkeypatch.setattr(recorder, "write", lambda batch: (sizes.append(len(batch)),
                                                          write(batch)))
    settings.DIHYA_RECORDER, settings.DIHYA_RECORD_BATCH_MS = "batched", 300
    assert asyncio.run(calls(api, client_with_quota("batched"))) == \
        [200] * (PLAIN + STREAMED) + [400] * REFUSED
    assert recorder.flush()

    assert sum(sizes) == PLAIN + STREAMED + REFUSED and max(sizes) > 1  # batches, not runs
    batched = recorded("batched")
    assert batched == inline
    assert batched["reservations"] == {"settled": PLAIN + STREAMED, "released": REFUSED}
    assert ("requests", "day", PLAIN + STREAMED) in batched["counters"]
    assert ("tokens", "minute", PLAIN * 10 + STREAMED * 9) in batched["counters"]
    assert audit_log.verify()[1] is None


EMBEDDING = {"object": "list", "model": "e5",
             "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.25, 3.0]}],
             "usage": {"prompt_tokens": 4, "total_tokens": 4}}


def test_embeddings_are_batched_once_their_route_knows_its_dimension(api, make_engine,
                                                                    make_route, settings):
    """An embedding route's first answer pins its dimension (a statement, so written inline:
    the event loop may not touch the database); the calls after it go to the recorder."""
    make_route("embed", make_engine("http://embed.test/v1", name="fake-embed", model="e5",
                                    capabilities=["embeddings"]))
    key = client_with_quota("embedder")
    settings.DIHYA_RECORDER, settings.DIHYA_RECORD_BATCH_MS = "batched", 60_000
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        mock.post("http://embed.test/v1/embeddings").mock(httpx.Response(200, json=EMBEDDING))
        answers = [httpx.post(api + "/v1/embeddings", headers={"Authorization": f"Bearer {key}"},
                              json={"model": "embed", "input": "a"}, timeout=30)
                   for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3, answers[0].text
    assert Route.objects.get(name="embed").embedding_dimension == 3
    statuses = sorted(Generation.objects.values_list("status", flat=True))
    assert statuses == ["running", "running", "succeeded"]  # the first, inline; two queued

    assert recorder.flush()
    assert set(Generation.objects.values_list("status", flat=True)) == {"succeeded"}
    assert counted(Counter.objects.filter(metric="tokens")) == [("tokens", "minute", 12)]
    assert audit_log.verify()[1] is None
