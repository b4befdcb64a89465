"""A batch through the openai SDK: upload, create, run on the workers, download — every line
answered as the live call with the same body is, the refused ones in the error file."""

from __future__ import annotations

import json

import httpx
import pytest

from dihya.batches.models import Batch, BatchLine
from dihya.gateway.models import ApiClient, Generation
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
    assert Generation.objects.filter(source="job", status="succeeded").count() == 2


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
