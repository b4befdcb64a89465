"""Batches in the console: progress per batch, its files downloadable, the cancel action."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from dihya.batches import lifecycle
from dihya.batches.models import Batch, BatchFile, BatchLine
from dihya.gateway.models import ApiClient


@pytest.fixture
def batch(db) -> Batch:
    client = ApiClient.objects.create(name="bulk")
    raw = "".join(json.dumps({"custom_id": f"l{i}", "method": "POST",
                              "url": "/v1/chat/completions",
                              "body": {"model": "default", "messages": []}}) + "\n"
                  for i in range(4))
    source = BatchFile.objects.create(client=client, purpose="batch", filename="in.jsonl",
                                      bytes=len(raw), lines=4, content=raw)
    made = lifecycle.create(client, None, input_file_id=source.pk,
                            endpoint="/v1/chat/completions", completion_window="24h",
                            metadata=None)
    first, second = made.lines.order_by("position")[:2]
    BatchLine.objects.filter(pk=first.pk).update(status="succeeded", status_code=200,
                                                 response={"ok": True})
    BatchLine.objects.filter(pk=second.pk).update(status="failed", status_code=400,
                                                  response={"error": {}})
    return made


def test_the_list_shows_each_batchs_lines_done_failed_and_left(admin_client, batch,
                                                               django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        page = admin_client.get(reverse("admin:batches_batch_changelist"))

    assert page.status_code == 200
    row = next(r for r in page.context["cl"].result_list if r.pk == batch.pk)
    assert (row.lines_done, row.lines_failed, row.lines_left) == (1, 1, 2)


def test_the_list_estimates_the_end_from_the_rate_so_far(admin_client, batch):
    Batch.objects.filter(pk=batch.pk).update(
        in_progress_at=timezone.now() - dt.timedelta(minutes=2))

    page = admin_client.get(reverse("admin:batches_batch_changelist"))

    assert b"<td class=\"field-rate\">1.0</td>" in page.content  # 2 lines in 2 minutes
    row = next(r for r in page.context["cl"].result_list if r.pk == batch.pk)
    assert page.context["cl"].model_admin.estimated_end(row) != "—"


def test_a_batch_page_links_its_files_and_they_download(admin_client, batch):
    page = admin_client.get(reverse("admin:batches_batch_change", args=[batch.pk]))
    assert page.status_code == 200 and b"in.jsonl" in page.content

    download = admin_client.get(reverse("admin:batches_batchfile_download",
                                        args=[batch.input_file_id]))

    assert download.status_code == 200
    assert download.content.decode() == batch.input_file.content
    assert "attachment" in download["Content-Disposition"]


def test_the_cancel_action_cancels_the_lines_not_started(admin_client, batch):
    admin_client.post(reverse("admin:batches_batch_changelist"),
                      {"action": "cancel", "_selected_action": [batch.pk]})

    batch.refresh_from_db()
    assert batch.status == "cancelled" and batch.error_file is not None
    assert batch.lines.filter(status="cancelled").count() == 2
    output = BatchFile.objects.get(pk=batch.output_file_id)
    assert admin_client.get(reverse("admin:batches_batchfile_download",
                                    args=[output.pk])).content.decode().count("\n") == 1


def test_a_batch_page_shows_its_progress_and_cancels_with_its_button(admin_client, batch):
    page = admin_client.get(reverse("admin:batches_batch_change", args=[batch.pk]))
    html = page.content.decode()
    cancel = reverse("admin:batches_batch_cancel", args=[batch.pk])

    for field, value in (("done", 1), ("failed_lines", 1), ("left", 2)):
        assert f'<div class="readonly">{value}</div>' in html.split(f"field-{field}")[1][:600]
    assert f'action="{cancel}"' in html
    assert admin_client.get(cancel).status_code == 405

    done = admin_client.post(cancel, follow=True)

    batch.refresh_from_db()
    assert batch.status == "cancelled" and batch.lines.filter(status="cancelled").count() == 2
    assert "Batch cancelled" in done.content.decode()
    assert f'action="{cancel}"' not in done.content.decode()  # nothing left to cancel
