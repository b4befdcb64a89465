"""A few lines on the demo's llama.cpp (SmolLM2): a batch's answers are the engine's own."""

from __future__ import annotations

import json

import pytest

from tests.batches.conftest import chat_line, jsonl, sdk_for, work

pytestmark = pytest.mark.engine


def test_a_small_batch_runs_on_the_real_engine(api, llama, make_engine, make_route, make_key):
    make_route("default", make_engine(llama, name="llama"), max_tokens=8)
    sdk = sdk_for(api, make_key())
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(
        chat_line("hi", "Say hi", max_tokens=8), chat_line("count", "Count to 3",
                                                             max_tokens=8))), purpose="batch")
    batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                               completion_window="24h")

    work()

    done = sdk.batches.retrieve(batch.id)
    assert done.status == "completed" and done.request_counts.completed == 2, done
    lines = [json.loads(line) for line in sdk.files.content(done.output_file_id).text.splitlines()]
    assert [line["custom_id"] for line in lines] == ["hi", "count"]
    for line in lines:
        body = line["response"]["body"]
        assert body["choices"][0]["message"]["content"].strip()
        assert 0 < body["usage"]["completion_tokens"] <= 8
