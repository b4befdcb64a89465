"""POST /v1/files checks a batch input line by line, naming the line; files are per client."""

from __future__ import annotations

import json

import openai
import pytest

from tests.batches.conftest import chat_line, jsonl, sdk_for


def refusal(exc: pytest.ExceptionInfo[openai.APIStatusError]) -> dict:
    return exc.value.response.json()["error"]


@pytest.mark.parametrize(("line", "message", "param"), [
    ("not json", "line 2: not valid JSON.", "file"),
    (json.dumps({**chat_line("m"), "method": "GET"}), 'line 2: method must be "POST".',
     "method"),
    (json.dumps({**chat_line("b"), "url": "/v1/completions"}), "line 2: url must be one of",
     "url"),
    (json.dumps(chat_line("a")), "line 2: custom_id 'a' is used twice", "custom_id"),
    (json.dumps({**chat_line("c"), "body": "hi"}), "line 2: body must be a JSON object.",
     "body"),
])
def test_it_refuses_a_bad_line_by_its_number(sdk, line, message, param):
    raw = (json.dumps(chat_line("a")) + "\n" + line + "\n").encode()

    with pytest.raises(openai.BadRequestError) as refused:
        sdk.files.create(file=("in.jsonl", raw), purpose="batch")

    assert refusal(refused)["message"].startswith(message)
    assert refusal(refused)["param"] == param


def test_it_holds_to_the_line_and_size_limits(sdk, settings):
    settings.DIHYA_BATCH_MAX_LINES = 2
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.files.create(file=("in.jsonl", jsonl(chat_line("a"), chat_line("b"),
                                                 chat_line("c"))), purpose="batch")
    assert refusal(refused)["code"] == "too_many_lines"

    settings.DIHYA_FILE_MAX_BYTES = 50
    with pytest.raises(openai.APIStatusError) as too_big:
        sdk.files.create(file=("in.jsonl", jsonl(chat_line("a"))), purpose="batch")
    assert too_big.value.status_code == 413 and refusal(too_big)["code"] == "file_too_large"


def test_only_the_batch_purpose_is_taken(sdk):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.files.create(file=("in.jsonl", jsonl(chat_line("a"))), purpose="fine-tune")
    assert refusal(refused)["param"] == "purpose"


def test_it_lists_reads_and_deletes_a_clients_own_files(sdk):
    raw = jsonl(chat_line("a")).getvalue()
    first = sdk.files.create(file=("one.jsonl", raw), purpose="batch")
    second = sdk.files.create(file=("two.jsonl", raw), purpose="batch")

    assert [f.id for f in sdk.files.list()] == [second.id, first.id]
    assert sdk.files.retrieve(first.id).filename == "one.jsonl"
    assert sdk.files.content(first.id).content == raw
    assert sdk.files.delete(first.id).deleted is True
    assert [f.id for f in sdk.files.list()] == [second.id]
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(first.id)


def test_another_clients_file_and_batch_are_404_like_unknown_ones(sdk, api, make_key):
    mine = sdk.files.create(file=("in.jsonl", jsonl(chat_line("a"))), purpose="batch")
    batch = sdk.batches.create(input_file_id=mine.id, endpoint="/v1/chat/completions",
                               completion_window="24h")
    other = sdk_for(api, make_key("other"))

    for read in (lambda: other.files.retrieve(mine.id), lambda: other.files.content(mine.id),
                 lambda: other.files.delete(mine.id), lambda: other.batches.retrieve(batch.id),
                 lambda: other.batches.cancel(batch.id)):
        with pytest.raises(openai.NotFoundError):
            read()
    with pytest.raises(openai.NotFoundError) as unknown:
        other.batches.create(input_file_id=mine.id, endpoint="/v1/chat/completions",
                             completion_window="24h")
    assert refusal(unknown)["param"] == "input_file_id"
    assert list(other.files.list()) == [] and list(other.batches.list()) == []


def test_files_and_batches_need_the_jobs_scope(api, routes, make_key):
    chat_only = sdk_for(api, make_key(scopes=frozenset({"chat"})))

    with pytest.raises(openai.PermissionDeniedError):
        chat_only.files.create(file=("in.jsonl", jsonl(chat_line("a"))), purpose="batch")
    with pytest.raises(openai.PermissionDeniedError):
        chat_only.batches.list()


def test_an_upload_may_be_larger_than_an_api_body_up_to_the_file_limit(sdk, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    raw = jsonl(*(chat_line(f"line-{i}", "x" * 100) for i in range(50))).getvalue()
    assert len(raw) > 5 * settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    uploaded = sdk.files.create(file=("big.jsonl", raw), purpose="batch")

    assert uploaded.bytes == len(raw)
    with pytest.raises(openai.APIStatusError) as too_big:  # other endpoints keep their limit
        sdk.chat.completions.create(model="default",
                                    messages=[{"role": "user", "content": "x" * 5_000}])
    assert too_big.value.status_code == 413
