"""Batch lines are a person's data: consent is asked per line, and a person's lines are in
their export and blanked by their erasure (the batch's counts stay)."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit import consent
from dihya import tasks
from dihya.batches.models import Batch, BatchFile, BatchLine
from tests.batches.conftest import chat_line, jsonl, queued
from tests.people.conftest import agree, api, chat


def batch_for(key: str, *users: str) -> str:
    raw = jsonl(*(chat_line(u, f"Hello, I am {u}", user=u) for u in users)).getvalue()
    uploaded = Client().post("/v1/files", {"purpose": "batch",
                                           "file": SimpleUploadedFile("in.jsonl", raw)},
                             HTTP_AUTHORIZATION=f"Bearer {key}")
    assert uploaded.status_code == 200, uploaded.content
    made = api(key, "post", "/v1/batches", {"input_file_id": uploaded.json()["id"],
                                            "endpoint": "/v1/chat/completions",
                                            "completion_window": "24h"})
    for line_id in queued():
        tasks.run_batch_line(line_id)
    return str(made.json()["id"])


def test_a_line_for_a_person_without_consent_is_refused_as_a_live_call(crm_key, engine):
    batch_id = batch_for(crm_key, "yann")

    batch = api(crm_key, "get", f"/v1/batches/{batch_id}").json()
    [line] = api(crm_key, "get", f"/v1/files/{batch['error_file_id']}/content").content.decode(
        ).splitlines()
    refused = json.loads(line)["response"]
    live = chat(crm_key, user="yann")
    assert refused["status_code"] == live.status_code == 403
    assert refused["body"]["error"]["code"] == live.json()["error"]["code"]


def test_a_persons_lines_are_exported_and_erased_with_them(crm_key, engine):
    consent.get_purpose()
    agree(Client(), chat(crm_key).json()["error"]["consent_url"])
    batch_id = batch_for(crm_key, "zoe", "yann")

    export = api(crm_key, "post", "/api/v1/people/zoe/export").json()
    [mine] = export["batches"]
    assert mine["custom_id"] == "zoe" and mine["request"]["messages"][0]["content"] == \
        "Hello, I am zoe"
    assert mine["response"]["choices"][0]["message"]["content"]

    receipt = api(crm_key, "post", "/api/v1/people/zoe/erase").json()

    assert receipt["counts"]["batches"] == 1
    zoe, yann = BatchLine.objects.order_by("position")
    assert zoe.erased and "zoe" not in json.dumps([zoe.body, zoe.response, zoe.end_user])
    assert not yann.erased and yann.body["user"] == "yann"
    source = BatchFile.objects.get(holds="input").content
    assert "Hello, I am zoe" not in source and "Hello, I am yann" in source
    batch = Batch.objects.get(pk=batch_id)
    assert (batch.total, batch.completed, batch.failed) == (2, 1, 1)
