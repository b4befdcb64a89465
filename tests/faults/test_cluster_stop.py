"""SIGTERM to `manage.py qcluster`: an idle cluster stops within seconds; a cluster whose
worker is mid-job lets the job finish and records it, then stops (docs/resilience.md).

The signal goes to the cluster's main process alone, as `docker stop`, Kubernetes and
systemd's `KillMode=mixed` send it. Both brokers: the ORM one on SQLite, Redis with
PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import time

from dihya.gateway.models import Generation
from dihya.generation import jobs, pipeline
from dihya.generation.requests import ChatBody
from tests.api.fake_engine import Gate, held_engine  # noqa: F401 - a fixture
from tests.conftest import Process, wait_until


def running(cluster: Process) -> None:
    wait_until(lambda: "running" in cluster.output(), timeout=60,
               what=lambda: "the cluster to run:\n" + cluster.output()[-3000:])


def group_gone(cluster: Process) -> bool:
    try:
        os.killpg(cluster.proc.pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_an_idle_cluster_stops_within_seconds_of_sigterm(qcluster):
    running(qcluster)
    asked = time.monotonic()
    qcluster.proc.send_signal(signal.SIGTERM)
    qcluster.proc.wait(10)
    took = time.monotonic() - asked
    assert took < 5, qcluster.output()[-3000:]
    wait_until(lambda: group_gone(qcluster), timeout=2, what="the cluster's workers to end")


def test_a_cluster_mid_job_lets_the_job_finish_then_stops(
        qcluster, held_engine: tuple[str, Gate], make_engine, make_route):  # noqa: F811
    url, gate = held_engine
    make_route("r", make_engine(url, name="held", read_timeout=60), max_tokens=16)
    running(qcluster)
    body = ChatBody(model="r", messages=[{"role": "user", "content": "Hi"}])
    generation = pipeline.admit(pipeline.Caller(client=None, source=Generation.Source.JOB),
                                body, queued=True).generation
    jobs.enqueue(generation)
    wait_until(lambda: gate.seen >= 1, timeout=60,
               what=lambda: "the worker to call the engine:\n" + qcluster.output()[-3000:])

    qcluster.proc.send_signal(signal.SIGTERM)
    time.sleep(1.5)
    assert qcluster.proc.poll() is None  # waiting for its worker's job
    assert Generation.objects.get(pk=generation.pk).status == "running"

    gate.open.set()
    qcluster.proc.wait(10)
    generation.refresh_from_db()
    assert generation.status == "succeeded", generation.error_message
    assert generation.deliveries == 1
    wait_until(lambda: group_gone(qcluster), timeout=2, what="the cluster's workers to end")
