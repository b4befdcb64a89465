"""A batch line that finds every engine of its route at its batch share waits for a ticket: back
to pending, nothing charged, no failure; it runs when a batch line ends or the sweep comes."""

from __future__ import annotations

import pytest

from dihya import tasks
from dihya.api import batch_lines
from dihya.batches import lifecycle
from dihya.batches.models import Batch, BatchLine
from dihya.gateway.models import ApiClient, Generation
from fallbacks import slots
from fallbacks.models import Engine
from quotas.models import Assignment, Counter, Limit, Plan
from tests.batches.conftest import chat_line, jsonl, queued, work


@pytest.fixture
def shared(routes):
    engine = Engine.objects.get(name="fake")
    engine.batch_share = 1
    engine.save()  # the routes' snapshot forgets it
    return engine


def batch_of(sdk, lines: int) -> str:
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(*(chat_line(f"l{i}")
                                                          for i in range(lines)))),
                                purpose="batch")
    return sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                              completion_window="24h").id


def hold_the_ticket(engine: Engine) -> None:
    """Another batch line in flight on the engine (in another worker)."""
    assert slots.take(engine.pk, engine.batch_share or 0, "other-line", 60, slots.TICKETS)


def test_a_line_waits_for_the_share_without_a_generation_and_runs_later(sdk, shared):
    Assignment.objects.create(client=ApiClient.objects.get(name="app"),
                              plan=Plan.objects.create(name="p"))
    Limit.objects.create(plan=Plan.objects.get(), metric="requests", period="day", amount=10)
    batch = batch_of(sdk, 2)
    hold_the_ticket(shared)

    for line_id in queued():
        assert tasks.run_batch_line(line_id) == "pending"

    assert not queued()  # putting lines back queued nothing: no spin
    assert set(BatchLine.objects.values_list("status", "deliveries")) == {("pending", 0)}
    assert not Generation.objects.exists() and not Counter.objects.filter(used__gt=0).exists()

    slots.free(shared.pk, "other-line")
    tasks.sweep_batches()
    work()

    done = sdk.batches.retrieve(batch)
    assert done.status == "completed" and done.request_counts.completed == 2
    assert Generation.objects.filter(status="succeeded").count() == 2
    assert sum(Counter.objects.filter(metric="requests").values_list("used", flat=True)) == 2


def test_a_line_that_lost_the_last_ticket_after_looking_is_charged_nothing_and_runs_again(
        sdk, shared, monkeypatch):
    Assignment.objects.create(client=ApiClient.objects.get(name="app"),
                              plan=Plan.objects.create(name="p"))
    Limit.objects.create(plan=Plan.objects.get(), metric="requests", period="day", amount=10)
    batch = batch_of(sdk, 1)
    [line_id] = queued()
    monkeypatch.setattr(batch_lines, "share_room", lambda line: True)  # it looked before
    hold_the_ticket(shared)  # another line took the ticket meanwhile

    assert tasks.run_batch_line(line_id) == "pending"

    [lost] = Generation.objects.all()
    assert (lost.status, lost.error_code) == ("failed", "batch_share_full")
    assert sum(Counter.objects.filter(metric="requests").values_list("used", flat=True)) == 0
    line = BatchLine.objects.get(pk=line_id)
    assert (line.deliveries, line.generation_id, line.response) == (0, None, None)

    slots.free(shared.pk, "other-line")
    tasks.sweep_batches()
    work()

    done = sdk.batches.retrieve(batch)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == (
        "completed", 1, 0)
    assert sum(Counter.objects.filter(metric="requests").values_list("used", flat=True)) == 1


def test_a_line_put_back_while_its_batch_is_cancelled_ends_cancelled(sdk, shared, monkeypatch):
    batch = batch_of(sdk, 1)
    [line_id] = queued()

    def cancelled_meanwhile(line: BatchLine) -> bool:
        lifecycle.cancel(Batch.objects.get(pk=batch))  # the line runs: it is not cancelled
        return False

    monkeypatch.setattr(batch_lines, "share_room", cancelled_meanwhile)

    assert tasks.run_batch_line(line_id) == "cancelled"

    assert sdk.batches.retrieve(batch).status == "cancelled"
