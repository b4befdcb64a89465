"""Nothing lost, nothing twice: a task delivered twice, a worker gone mid-line, a run
overtaken — every line ends once in the output or the error file and is charged once."""

from __future__ import annotations

import datetime as dt
import json

import openai
import pytest
from django.utils import timezone

from dihya import tasks
from dihya.api import batch_lines
from dihya.batches import scheduler
from dihya.batches.models import BatchLine
from dihya.gateway.models import ApiClient, Generation
from dihya.generation import pipeline, reaper
from dihya.lib import loop
from quotas.models import Assignment, Limit, Plan
from tests.batches.conftest import chat_line, jsonl


def one_line_batch(sdk) -> BatchLine:
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(chat_line("only"))), purpose="batch")
    sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                       completion_window="24h")
    return BatchLine.objects.get()


def one_request_a_day(client: str = "app") -> None:
    plan = Plan.objects.create(name="one")
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=1, hard=True)
    Assignment.objects.create(plan=plan, client=ApiClient.objects.get(name=client))


def later() -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=1)


def test_a_task_delivered_twice_runs_its_line_once(sdk, fake_engine):
    line = one_line_batch(sdk)

    assert tasks.run_batch_line(str(line.pk)) == "succeeded"
    assert tasks.run_batch_line(str(line.pk)) == "succeeded"

    assert len(fake_engine.requests) == 1
    assert Generation.objects.count() == 1
    batch = sdk.batches.retrieve(line.batch_id)
    assert batch.request_counts.completed == 1 and batch.status == "completed"


def test_a_line_whose_worker_died_runs_again_and_is_charged_once(sdk, fake_engine):
    one_request_a_day()
    line = one_line_batch(sdk)
    claimed = scheduler.claim(line.pk)
    assert claimed is not None
    batch_lines.admitted(claimed)  # admitted (quota reserved), then the worker is killed

    swept = scheduler.sweep(later())
    reaped = reaper.reap(later())

    assert swept["requeued"] == 1 and reaped["failed"] == 1  # the dead run's reservation back
    assert tasks.run_batch_line(str(line.pk)) == "succeeded"
    done = sdk.batches.retrieve(line.batch_id)
    assert done.status == "completed" and done.request_counts.completed == 1
    [out] = sdk.files.content(done.output_file_id).text.splitlines()
    assert json.loads(out)["custom_id"] == "only"
    statuses = sorted(Generation.objects.values_list("status", flat=True))
    assert statuses == ["failed", "succeeded"]
    with pytest.raises(openai.RateLimitError):  # one request a day: the line's, counted once
        sdk.chat.completions.create(model="default", messages=[{"role": "user", "content": "x"}])


def test_a_run_overtaken_by_a_new_delivery_writes_nothing(sdk, fake_engine):
    line = one_line_batch(sdk)
    slow = scheduler.claim(line.pk)
    assert slow is not None
    ready = batch_lines.admitted(slow)
    outcome = loop.run(pipeline.execute(ready.admission))
    scheduler.sweep(later())  # the slow worker is thought dead: the line is queued again
    assert tasks.run_batch_line(str(line.pk)) == "succeeded"

    with pytest.raises(batch_lines.Overtaken):
        batch_lines.written(slow, ready, outcome)

    line.refresh_from_db()
    assert line.deliveries == 2 and line.generation_id != ready.admission.generation.pk
    assert Generation.objects.filter(status="succeeded").count() == 1
    assert Generation.objects.get(pk=ready.admission.generation.pk).status == "running"
    assert reaper.reap(later())["failed"] == 1  # closed by the reaper, its quota released
    assert sdk.batches.retrieve(line.batch_id).request_counts.completed == 1


def test_a_line_no_worker_finishes_fails_after_the_deliveries_allowed(sdk, settings):
    settings.DIHYA_MAX_DELIVERIES = 2
    line = one_line_batch(sdk)
    for _ in range(2):
        assert scheduler.claim(line.pk) is not None
        scheduler.sweep(later())

    done = sdk.batches.retrieve(line.batch_id)
    assert done.status == "completed" and done.request_counts.failed == 1
    [error] = sdk.files.content(done.error_file_id).text.splitlines()
    assert json.loads(error)["response"]["body"]["error"]["code"] == "worker_lost"
