"""A real django-q2 cluster killed (SIGKILL) in the middle of a batch: the sweep re-queues
the lines it held, a new cluster finishes the batch, and every line ends exactly once."""

from __future__ import annotations

import datetime as dt
import json
import sys

from django.utils import timezone

from dihya.batches import lifecycle, scheduler
from dihya.batches.models import Batch, BatchFile, BatchLine
from dihya.gateway import keys
from dihya.gateway.models import ApiClient, Generation
from dihya.generation import reaper
from fallbacks.models import Route
from tests.api.fake_engine import held_engine  # noqa: F401 - a fixture
from tests.conftest import Process, child_env, wait_until


def test_a_batch_whose_cluster_was_killed_ends_every_line_once(qcluster, held_engine,  # noqa: F811
                                                               make_engine, make_route,
                                                               tmp_path, settings):
    url, gate = held_engine
    make_route("default", make_engine(url, name="held", read_timeout=60), max_tokens=16)
    client = ApiClient.objects.create(name="bulk")
    client.routes.add(Route.objects.get(name="default"))
    key, _ = keys.issue(client)
    raw = "".join(json.dumps({"custom_id": f"l{i}", "method": "POST",
                              "url": "/v1/chat/completions",
                              "body": {"model": "default",
                                       "messages": [{"role": "user", "content": f"#{i}"}]}})
                  + "\n" for i in range(6))
    source = BatchFile.objects.create(client=client, purpose="batch", filename="in.jsonl",
                                      bytes=len(raw), lines=6, content=raw)
    batch = lifecycle.create(client, key.pk, input_file_id=source.pk,
                             endpoint="/v1/chat/completions", completion_window="24h",
                             metadata=None)
    scheduler.top_up()  # 4 lines (DIHYA_BATCH_INFLIGHT_PER_CLIENT) to the cluster's 2 workers
    try:
        wait_until(lambda: gate.seen >= 2, timeout=90, what="both workers to call the engine")
    except AssertionError:
        raise AssertionError("no worker ran a line:\n" + qcluster.output()[-3000:]) from None

    qcluster.kill_all()  # the whole cluster, workers included
    gate.open.set()
    held = BatchLine.objects.filter(status="running").count()
    # Later than a dead worker's deadline, and than a lost task's wait: the tasks of the
    # lines queued behind them were taken by the killed cluster too (the ORM broker would
    # hand them out again only after its `retry`).
    later = timezone.now() + dt.timedelta(seconds=settings.DIHYA_JOB_DEADLINE
                                          + settings.DIHYA_REAP_QUEUED_AFTER + 60)
    swept = scheduler.sweep(later)
    assert (swept["requeued"], swept["resent"]) == (held, 2) and held == 2
    assert reaper.reap(later)["failed"] == 2  # their admitted generations: released

    cluster = Process([sys.executable, "manage.py", "qcluster"], env=child_env(),
                      log=tmp_path / "qcluster2.log")
    try:
        wait_until(lambda: Batch.objects.get(pk=batch.pk).status == "completed", timeout=120,
                   what=lambda: "the batch to complete:\n" + cluster.output()[-3000:])
    finally:
        cluster.stop()
    batch.refresh_from_db()
    assert (batch.total, batch.completed, batch.failed) == (6, 6, 0)
    assert batch.output_file is not None
    ids = [json.loads(line)["custom_id"]
           for line in lifecycle.files.content(batch.output_file).splitlines()]
    assert sorted(ids) == [f"l{i}" for i in range(6)]
    assert Generation.objects.filter(status="succeeded").count() == 6
    assert sorted(BatchLine.objects.values_list("deliveries", flat=True)) == [1] * 4 + [2] * 2
