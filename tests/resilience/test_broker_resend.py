"""Tasks the broker refused are sent again, in order and once each, as soon as it answers;
the cluster's pusher waits out an outage instead of dying (dihya.gateway.broker, .brokers).
A real Redis restart: tests/faults/test_broker_outage.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from dihya.gateway import broker, brokers
from dihya.generation import jobs
from tests.conftest import wait_until


class Broker:
    """Stands for django-q2's broker: down until told otherwise; keeps what it took."""

    def __init__(self) -> None:
        self.down = True
        self.took: list[str] = []
        self.asked = 0

    def push(self, task: broker.Task) -> None:
        self.asked += 1
        if self.down:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")
        self.took.append(task.arg)


@pytest.fixture
def down(monkeypatch, settings) -> Iterator[Broker]:
    settings.DIHYA_BROKER_RETRY = 0.05
    fake = Broker()
    monkeypatch.setattr(broker, "_push", fake.push)
    yield fake
    fake.down = False
    wait_until(lambda: broker.waiting() == 0, timeout=5, what="the re-sender to finish")


def send(arg: str) -> bool:
    return broker.send("dihya.tasks.run_generation", arg, name=f"generation {arg}",
                       group="generations")


def test_it_sends_what_the_broker_refused_once_it_answers_in_order(down):
    assert not send("a")
    assert not send("b")  # behind "a"
    assert broker.waiting() == 2
    wait_until(lambda: down.asked >= 4, timeout=5, what="the re-sender to try again")
    assert down.took == []

    down.down = False
    wait_until(lambda: broker.waiting() == 0, timeout=5, what="the tasks to be sent")
    assert down.took == ["a", "b"]
    assert send("c") and down.took == ["a", "b", "c"]  # at once, now the broker answers


def test_a_task_refused_twice_is_sent_once(down):
    assert not send("a")
    assert not send("a")  # the same task, handed over again (the reaper's nudge)

    down.down = False
    wait_until(lambda: broker.waiting() == 0, timeout=5, what="the task to be sent")
    assert down.took == ["a"]


def test_a_job_accepted_while_the_broker_is_down_is_remembered(db, down, monkeypatch,
                                                               django_capture_on_commit_callbacks):
    class Row:
        pk = "0b4c0d3e-0000-4000-8000-000000000001"

    with django_capture_on_commit_callbacks(execute=True):
        jobs.enqueue(Row())  # type: ignore[arg-type]

    assert broker.waiting() == 1
    down.down = False
    wait_until(lambda: broker.waiting() == 0, timeout=5, what="the job's task to be sent")
    assert down.took == [Row.pk]


def test_the_pushers_broker_waits_out_an_outage_and_finds_nothing(settings):
    settings.DIHYA_BROKER_RETRY = 0.01
    dead = brokers.Redis(list_key="dihya-test-outage")
    dead.connection = redis.from_url("redis://127.0.0.1:1/0")  # as django-q2 connects

    assert dead.dequeue() is None  # stock django-q2 raises, and its pusher dies for 10 s
    assert dead.failing
