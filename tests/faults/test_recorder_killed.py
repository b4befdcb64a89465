"""A web process killed before its batch of finished calls was written (docs/benchmarks.md,
"Durability of batched recording").

The gateway runs as a real uvicorn child process recording in batches with a one-minute
window, so that every call it answers is still only in its queue. Killed with SIGKILL, it
writes nothing more: each accepted call is then a `running` row holding its reservation (the
intent written at admission), and the reaper must close every one of them as failed with its
reason, once, however often it runs — and charge each its reservation, since every one was
answered (a stream's row says so by the beat it wrote once its answer began; a plain call's
row cannot tell, so it is charged): served tokens never go free. Stopped with SIGTERM
instead, the process writes its queue on the way out and nothing is left for the reaper.
"""

from __future__ import annotations

import datetime as dt
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.utils import timezone

from audit import log as audit_log
from audit.models import AuditEvent
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Attempt, Generation
from dihya.generation import reaper
from quotas.models import Assignment, Limit, Plan, Reservation
from tests.api.fake_engine import FakeEngine, fake_engine, sse  # noqa: F401 - a fixture
from tests.conftest import Process, child_env, free_port, wait_until
from tests.quotas.conftest import usage

PLAIN, STREAMED = 5, 2
CHUNKS = ({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}}]},
          {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}})


@pytest.fixture
def key(transactional_db, fake_engine: FakeEngine, make_engine,  # noqa: F811
        make_route) -> str:
    route = make_route("default", make_engine(fake_engine.url, name="fake"), max_tokens=20)
    client = ApiClient.objects.create(name="app")
    client.routes.add(route)
    plan = Plan.objects.create(name="p")
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=1000)
    Limit.objects.create(plan=plan, metric="tokens", period="day", amount=10**6)
    Assignment.objects.create(plan=plan, client=client)
    return keys.issue(client)[1]


@pytest.fixture
def gateway(key: str, tmp_path: Path) -> Iterator[tuple[Process, str]]:
    port = free_port()
    server = Process([sys.executable, "-m", "uvicorn", "dihya.asgi:application", "--port",
                      str(port), "--log-level", "warning"],
                     env=child_env(DIHYA_RECORDER="batched", DIHYA_RECORD_BATCH_MS="60000",
                                   DIHYA_AXES="false"),
                     log=tmp_path / "uvicorn.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(url + "/v1/models", headers=auth(key)).status_code == 200,
                   timeout=30, what="the gateway")
    except AssertionError:
        server.kill()
        raise AssertionError("the gateway did not start:\n" + server.output()[-3000:]) from None
    yield server, url
    server.kill()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def serve_calls(url: str, key: str, engine: FakeEngine) -> None:
    for n in range(PLAIN + STREAMED):
        stream = n >= PLAIN
        if stream:
            engine.reply(sse(*CHUNKS))
        answer = httpx.post(url + "/v1/chat/completions", headers=auth(key), timeout=30, json={
            "model": "default", "stream": stream, "max_tokens": 10,
            "messages": [{"role": "user", "content": "Say hi"}]})
        assert answer.status_code == 200, answer.text
        assert "Hello" in answer.text or "Hi" in answer.text


def used(metric: str) -> int:
    return usage(None, metric, None)


def test_the_reaper_closes_and_charges_every_call_a_killed_process_had_not_written(
        gateway, key, fake_engine):  # noqa: F811
    server, url = gateway
    serve_calls(url, key, fake_engine)
    accepted = set(Generation.objects.values_list("pk", flat=True))
    assert len(accepted) == PLAIN + STREAMED
    # Answered, and still only in the process's queue: the rows are the admission's intent.
    assert set(Generation.objects.values_list("status", flat=True)) == {"running"}
    assert set(Reservation.objects.values_list("state", flat=True)) == {"reserved"}
    assert used("requests") == PLAIN + STREAMED and used("tokens") > 0
    reserved = used("tokens")
    streams = Generation.objects.filter(stream=True)
    assert streams.count() == STREAMED and not streams.filter(heartbeat=None).exists()

    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(5)
    later = timezone.now() + dt.timedelta(seconds=settings.DIHYA_JOB_DEADLINE
                                          + settings.DIHYA_REAP_GRACE + 1)
    assert reaper.reap(now=later)["failed"] == PLAIN + STREAMED

    for g in Generation.objects.all():
        assert (g.status, g.error_code) == ("failed", "abandoned"), g.pk
        assert g.error_message and g.finished is not None
    assert Reservation.objects.filter(generation_id__in=accepted).count() == len(accepted)
    assert set(Reservation.objects.values_list("state", flat=True)) == {"settled"}
    assert used("requests") == PLAIN + STREAMED  # every answered call counts
    assert used("tokens") == reserved  # each charged its reservation (the estimate)
    assert not Attempt.objects.exists()  # lost with the batch, as the notes say
    events = AuditEvent.objects.filter(kind="generation")
    assert sorted(events.values_list("generation_id", flat=True)) == sorted(accepted)
    assert set(events.values_list("status", flat=True)) == {"failed"}

    assert reaper.reap(now=later)["failed"] == 0  # once: nothing moves on a second pass
    assert used("requests") == PLAIN + STREAMED and used("tokens") == reserved
    assert AuditEvent.objects.filter(kind="generation").count() == len(accepted)
    assert audit_log.verify()[1] is None


def test_a_process_stopped_normally_writes_its_queue_on_the_way_out(
        gateway, key, fake_engine):  # noqa: F811
    server, url = gateway
    serve_calls(url, key, fake_engine)
    assert set(Generation.objects.values_list("status", flat=True)) == {"running"}

    server.proc.send_signal(signal.SIGTERM)
    server.proc.wait(15)  # uvicorn re-raises the signal once shut down: atexit never runs

    assert set(Generation.objects.values_list("status", flat=True)) == {"succeeded"}, \
        server.output()[-3000:]
    assert set(Reservation.objects.values_list("state", flat=True)) == {"settled"}
    assert Attempt.objects.filter(outcome="ok").count() == PLAIN + STREAMED
    assert used("requests") == PLAIN + STREAMED
    assert used("tokens") == PLAIN * 17 + STREAMED * 5  # the real usage, not the estimates
    later = timezone.now() + dt.timedelta(seconds=settings.DIHYA_JOB_DEADLINE
                                          + settings.DIHYA_REAP_GRACE + 1)
    assert reaper.reap(now=later)["failed"] == 0
    assert audit_log.verify()[1] is None
