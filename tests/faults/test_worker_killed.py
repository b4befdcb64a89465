"""Case 6: a worker killed mid-job; the reaper re-queues it and it completes exactly once."""

from __future__ import annotations

import datetime as dt
import sys

import pytest
from django.conf import settings
from django.utils import timezone

from dihya.gateway.models import Generation
from dihya.generation import jobs, pipeline, reaper
from dihya.generation.requests import ChatBody
from tests.conftest import Process, child_env, wait_until

pytestmark = pytest.mark.engine


def test_a_job_whose_worker_was_killed_completes_exactly_once(qcluster, proxy, make_engine,
                                                             make_route, tmp_path):
    make_route("r", make_engine(proxy.url, name="primary", read_timeout=30), max_tokens=4)
    proxy.set("hang")
    body = ChatBody(model="r", messages=[{"role": "user", "content": "Say hi"}], max_tokens=4)
    generation = pipeline.admit(pipeline.Caller(client=None), body, queued=True).generation
    jobs.enqueue(generation)
    try:
        wait_until(lambda: proxy.seen >= 1, timeout=60, what="the worker to call the engine")
    except AssertionError:
        raise AssertionError("no worker called the engine:\n" + qcluster.output()[-3000:]) \
            from None
    assert Generation.objects.get(pk=generation.pk).status == "running"

    qcluster.kill_all()  # the whole cluster, workers included
    proxy.set("pass")
    later = timezone.now() + dt.timedelta(seconds=settings.DIHYA_JOB_DEADLINE + 60)
    assert reaper.reap(now=later)["requeued"] == 1
    assert Generation.objects.get(pk=generation.pk).status == "queued"

    cluster = Process([sys.executable, "manage.py", "qcluster"], env=child_env(),
                      log=tmp_path / "qcluster2.log")
    try:
        done = wait_until(lambda: Generation.objects.get(pk=generation.pk).is_terminal,
                          timeout=60, what="the re-queued job")
    finally:
        cluster.stop()
    assert done
    generation.refresh_from_db()
    assert generation.status == "succeeded", generation.error_message
    assert generation.deliveries == 2
    assert [a.outcome for a in generation.attempts.all()] == ["ok"]
    assert jobs.run(generation.pk) == "succeeded"  # a late duplicate delivery changes nothing
    assert Generation.objects.get(pk=generation.pk).deliveries == 2
