"""A batch through the openai SDK: upload, create, run on the workers, download — every line
answered as the live call with the same body is, the refused ones in the error file."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import openai
import pytest
from django.utils import timezone

from audit.models import AuditEvent
from dihya import tasks
from dihya.batches.models import Batch, BatchFile, BatchLine
from dihya.gateway.models import ApiClient, Generation
from dihya.privacy import erasure
from quotas.models import Assignment, Limit, Plan
from tests.api.fake_engine import answer
from tests.batches.conftest import chat_line, jsonl, work


def lines_of(text: str) -> dict[str, dict]:
    return {line["custom_id"]: line for line in map(json.loads, text.splitlines())}


def test_it_runs_a_chat_batch_to_completed_with_the_live_calls_answers(sdk, fake_engine):
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(
        chat_line("a", "One"), chat_line("b", "Two", max_tokens=20),
        chat_line("bad", "Three", temperature=9))), purpose="batch")
    assert uploaded.id.startswith("file-") and uploaded.object == "file"
    assert uploaded.purpose == "batch" and uploaded.status == "processed"
    assert uploaded.filename == "in.jsonl" and uploaded.bytes > 0

    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h", metadata={"job": "nightly"})
    assert batch.status == "in_progress" and batch.request_counts.total == 3
    assert batch.metadata == {"job": "nightly"}
    fake_engine.reply(answer("Un"))
    fake_engine.reply(answer("Deux"))
    assert work() == 3

    done = sdk.batches.retrieve(batch.id)
    assert done.status == "completed" and done.completed_at is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
    output = lines_of(sdk.files.content(done.output_file_id).text)
    errors = lines_of(sdk.files.content(done.error_file_id).text)
    assert set(output) == {"a", "b"} and set(errors) == {"bad"}
    first = output["a"]
    assert first["id"].startswith("batch_req_") and first["error"] is None
    assert first["response"]["status_code"] == 200
    assert first["response"]["request_id"].startswith("req_")
    body = first["response"]["body"]
    assert body["object"] == "chat.completion" and body["model"] == "default"
    assert body["choices"][0]["message"]["content"] == "Un"
    assert body["usage"] == {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    assert output["b"]["response"]["body"]["choices"][0]["message"]["content"] == "Deux"
    assert fake_engine.requests[1]["max_tokens"] == 20

    assert errors["bad"]["response"]["status_code"] == 400
    assert errors["bad"]["response"]["body"]["error"]["param"] == "temperature"
    assert Generation.objects.filter(source="batch", status="succeeded").count() == 2


def test_a_refused_line_carries_the_error_object_a_live_call_gets(sdk, api, make_key):
    bad = chat_line("bad", "Three", temperature=9)
    live = httpx.post(api + "/v1/chat/completions", json=bad["body"],
                      headers={"Authorization": f"Bearer {sdk.api_key}"})
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(bad)), purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h")
    work()

    done = sdk.batches.retrieve(batch.id)
    assert done.output_file_id is None and done.status == "completed"
    [line] = lines_of(sdk.files.content(done.error_file_id).text).values()
    assert line["response"]["status_code"] == live.status_code == 400
    assert line["response"]["body"] == live.json()
    assert live.json()["error"]["param"] == "temperature"


def test_embeddings_lines_answer_as_the_live_endpoint(sdk, api, fake_engine):
    vectors = {"object": "list", "model": "e5", "usage": {"prompt_tokens": 3, "total_tokens": 3},
               "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -1.0]}]}
    fake_engine.reply(vectors)
    live = httpx.post(api + "/v1/embeddings", json={"model": "embed", "input": "hi"},
                      headers={"Authorization": f"Bearer {sdk.api_key}"}).json()
    fake_engine.reply(vectors)
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(
        {"custom_id": "e1", "method": "POST", "url": "/v1/embeddings",
         "body": {"model": "embed", "input": "hi"}})), purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings",
                               completion_window="24h")
    work()

    done = sdk.batches.retrieve(batch.id)
    [line] = lines_of(sdk.files.content(done.output_file_id).text).values()
    assert line["response"]["body"] == live
    assert fake_engine.paths[-1].endswith("/embeddings")


def test_responses_lines_are_translated_and_answered_as_responses(sdk, fake_engine):
    fake_engine.reply(answer("Bonjour."))
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(
        {"custom_id": "r1", "method": "POST", "url": "/v1/responses",
         "body": {"model": "default", "input": "Say hello in French.",
                  "instructions": "Be brief."}})), purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/responses",
                               completion_window="24h")
    work()

    done = sdk.batches.retrieve(batch.id)
    [line] = lines_of(sdk.files.content(done.output_file_id).text).values()
    response = line["response"]["body"]
    assert response["object"] == "response" and response["status"] == "completed"
    assert response["output"][0]["content"][0]["text"] == "Bonjour."
    assert fake_engine.requests[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sdk.responses.retrieve(response["id"]).output_text == "Bonjour."


def test_a_line_over_quota_is_refused_as_live_and_the_batch_goes_on(sdk, fake_engine):
    plan = Plan.objects.create(name="tiny")
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=2, hard=True)
    Assignment.objects.create(plan=plan, client=ApiClient.objects.get(name="app"))
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(*(chat_line(f"l{i}") for i in range(3)))),
                                purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h")
    work()

    done = sdk.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
    [refused] = lines_of(sdk.files.content(done.error_file_id).text).values()
    assert refused["response"]["status_code"] == 429
    assert refused["response"]["body"]["error"]["type"] == "rate_limit_error"
    with pytest.raises(openai.RateLimitError) as live:
        sdk.chat.completions.create(model="default", messages=[{"role": "user", "content": "x"}])
    assert live.value.response.json()["error"]["code"] == refused["response"]["body"]["error"][
        "code"]


def test_a_batch_limit_refuses_lines_past_it_and_leaves_live_calls_alone(sdk, fake_engine):
    plan = Plan.objects.create(name="bulk")
    Limit.objects.create(plan=plan, metric="batch_requests", period="day", amount=2)
    Limit.objects.create(plan=plan, metric="requests", period="day", amount=3)
    Assignment.objects.create(plan=plan, client=ApiClient.objects.get(name="app"))
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(*(chat_line(f"l{i}") for i in range(3)))),
                                purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h")
    work()

    done = sdk.batches.retrieve(batch.id)
    assert done.status == "completed"
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
    [refused] = lines_of(sdk.files.content(done.error_file_id).text).values()
    assert refused["response"]["status_code"] == 429
    error = refused["response"]["body"]["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "quota_exceeded")
    assert "requests of batch lines per day" in error["message"]
    sdk.chat.completions.create(model="default", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as live:  # the plan's limit of every call
        sdk.chat.completions.create(model="default", messages=[{"role": "user", "content": "x"}])
    assert live.value.response.json()["error"].keys() == error.keys()


def test_a_line_for_another_endpoint_fails_the_batch_naming_it(sdk):
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(
        chat_line("a"), {"custom_id": "e", "method": "POST", "url": "/v1/embeddings",
                         "body": {"model": "embed", "input": "hi"}})), purpose="batch")

    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h")

    assert batch.status == "failed" and batch.failed_at is not None
    [error] = batch.errors.data
    assert (error.code, error.line, error.param) == ("invalid_url", 2, "url")
    assert not BatchLine.objects.exists()


def test_cancel_stops_lines_not_started_and_keeps_those_in_flight(sdk, settings):
    settings.DIHYA_BATCH_INFLIGHT_PER_CLIENT = 2
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(*(chat_line(f"l{i}") for i in range(5)))),
                                purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h")
    first, second = (str(pk) for pk in BatchLine.objects.filter(
        status="queued").values_list("pk", flat=True))
    tasks.run_batch_line(first)  # done before the cancel
    BatchLine.objects.filter(pk=second).update(status="running", deliveries=1)  # in flight

    cancelling = sdk.batches.cancel(batch.id)

    assert cancelling.status == "cancelling"
    BatchLine.objects.filter(pk=second).update(status="queued", deliveries=0)
    tasks.run_batch_line(second)  # the worker that had it finishes it
    done = sdk.batches.retrieve(batch.id)
    assert done.status == "cancelled" and done.cancelled_at is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 0)
    errors = lines_of(sdk.files.content(done.error_file_id).text)
    assert len(errors) == 3 and {e["error"]["code"] for e in errors.values()} == {
        "batch_cancelled"}
    assert len(lines_of(sdk.files.content(done.output_file_id).text)) == 2
    assert Generation.objects.count() == 2


def test_lines_not_run_by_the_end_of_the_window_expire(sdk, settings):
    settings.DIHYA_BATCH_INFLIGHT_PER_CLIENT = 1
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(*(chat_line(f"l{i}") for i in range(3)))),
                                purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h")
    work(rounds=1)
    Batch.objects.filter(pk=batch.id).update(expires_at=timezone.now())

    tasks.sweep_batches()

    done = sdk.batches.retrieve(batch.id)
    assert done.status == "expired" and done.expired_at is not None
    assert done.request_counts.completed == 1
    errors = lines_of(sdk.files.content(done.error_file_id).text)
    assert {e["error"]["code"] for e in errors.values()} == {"batch_expired"}
    assert len(errors) == 2


def test_it_lists_batches_newest_first_in_pages(sdk):
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(chat_line("a"))), purpose="batch")
    made = [sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h").id for _ in range(3)]

    page = sdk.batches.list(limit=2)

    assert [b.id for b in page.data] == made[:0:-1] and page.has_more
    rest = sdk.batches.list(limit=2, after=page.data[-1].id)
    assert [b.id for b in rest.data] == [made[0]] and not rest.has_more


def test_each_line_is_in_the_audit_log_with_its_prompt_redacted(sdk, settings):
    settings.DIHYA_AUDIT_CONTENT = True
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(
        chat_line("a", "Mail me at zoe@example.org"))), purpose="batch")
    sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                       completion_window="24h")
    work()

    event = AuditEvent.objects.get(kind="generation")
    assert event.details["prompt"] == ["Mail me at [email]"]
    assert event.details["source"] == "batch" and event.client == "app"


def test_batches_past_their_retention_are_purged_with_their_lines_and_files(sdk):
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(chat_line("a"))), purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h")
    work()
    sdk.files.create(file=("fresh.jsonl", jsonl(chat_line("b"))), purpose="batch")

    assert erasure.purge_expired({"batch": 30}, by="test")["batches"] == 0
    Batch.objects.update(created_at=timezone.now() - dt.timedelta(days=31))
    BatchFile.objects.filter(pk=uploaded.id).update(
        created=timezone.now() - dt.timedelta(days=31))
    counts = erasure.purge_expired({"batch": 30}, by="test")

    assert counts["batches"] > 0
    assert not Batch.objects.filter(pk=batch.id).exists() and not BatchLine.objects.exists()
    assert [f.filename for f in sdk.files.list()] == ["fresh.jsonl"]


def test_a_line_that_breaks_admission_unforeseen_fails_as_a_500_and_the_batch_goes_on(
        sdk, monkeypatch):
    from dihya.api import batch_lines

    uploaded = sdk.files.create(file=("in.jsonl", jsonl(chat_line("a"), chat_line("b"))),
                                purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h")
    real = batch_lines.admitted

    def flaky(line):
        if line.custom_id == "a":
            raise ValueError("unforeseen")
        return real(line)
    monkeypatch.setattr(batch_lines, "admitted", flaky)
    work()

    done = sdk.batches.retrieve(batch.id)
    assert (done.status, done.request_counts.completed, done.request_counts.failed) == (
        "completed", 1, 1)
    [error] = lines_of(sdk.files.content(done.error_file_id).text).values()
    assert error["response"]["status_code"] == 500
    assert error["response"]["body"]["error"]["code"] == "internal_error"
