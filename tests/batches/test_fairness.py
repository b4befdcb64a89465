"""Fair shares: each client's batches have at most DIHYA_BATCH_INFLIGHT_PER_CLIENT lines in
the workers' queue, so a small batch is not stuck behind a big one; queued jobs go first."""

from __future__ import annotations

from dihya import tasks
from dihya.batches import scheduler
from dihya.batches.models import Batch, BatchLine
from dihya.gateway.models import Generation
from tests.batches.conftest import chat_line, jsonl, queued, sdk_for


def batch_of(sdk, lines: int) -> str:
    uploaded = sdk.files.create(file=("in.jsonl", jsonl(*(chat_line(f"l{i}")
                                                          for i in range(lines)))),
                                purpose="batch")
    return sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                              completion_window="24h").id


def test_a_small_batch_finishes_while_a_big_one_of_another_client_runs(api, routes, make_key,
                                                                        settings):
    settings.DIHYA_BATCH_INFLIGHT_PER_CLIENT = 2
    big = batch_of(sdk_for(api, make_key("bulk")), 40)
    small = batch_of(sdk_for(api, make_key("desk")), 3)
    assert sorted(BatchLine.objects.filter(status="queued").values_list(
        "batch_id", flat=True)) == sorted([big, big, small, small])

    for _ in range(2):  # two rounds of the workers: each ran line tops its client up
        for line_id in queued():
            tasks.run_batch_line(line_id)

    assert Batch.objects.get(pk=small).status == "completed"
    assert Batch.objects.get(pk=big).completed >= 4
    assert BatchLine.objects.filter(batch_id=big, status__in=("queued", "running")).count() <= 2


def test_one_clients_batches_share_its_slots_in_turn(api, routes, make_key, settings):
    settings.DIHYA_BATCH_INFLIGHT_PER_CLIENT = 4
    sdk = sdk_for(api, make_key("bulk"))
    first = batch_of(sdk, 10)
    for line_id in queued():
        tasks.run_batch_line(line_id)
    second = batch_of(sdk, 10)
    BatchLine.objects.filter(status="queued").update(status="pending")

    scheduler.top_up()

    inflight = list(BatchLine.objects.filter(status="queued").values_list("batch_id", flat=True))
    assert sorted(inflight) == sorted([first, first, second, second])


def test_batch_lines_wait_while_jobs_are_queued(api, routes, make_key, settings):
    settings.DIHYA_BATCH_JOBS_AHEAD = 1
    sdk = sdk_for(api, make_key("bulk"))
    Generation.objects.create(source="job", route_name="default", status="queued")

    batch_of(sdk, 3)

    assert not queued()
    Generation.objects.update(status="succeeded")
    assert scheduler.top_up() == 3
