"""A worker's database work survives a lost connection: it runs again on a new one, for a
while, and never inside a caller's transaction (dihya.generation.reconnect). A real
`pg_terminate_backend` under a running job: tests/faults/test_connection_lost.py."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, transaction

from dihya.generation import reconnect


class Flaky:
    """Fails `times` times as a dropped connection does, then answers."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.calls = 0

    def __call__(self, answer: str) -> str:
        self.calls += 1
        if self.calls <= self.times:
            raise OperationalError("server closed the connection unexpectedly")
        return answer


def test_it_runs_the_work_again_on_a_new_connection(transactional_db, settings):
    settings.DIHYA_DB_RETRY = 5
    flaky = Flaky(times=2)
    connection.ensure_connection()

    assert reconnect.retrying(flaky, "done") == "done"

    assert flaky.calls == 3
    assert connection.connection is None  # closed: the next statement opens a new one


def test_it_gives_up_after_DIHYA_DB_RETRY(transactional_db, settings):
    settings.DIHYA_DB_RETRY = 0.2
    flaky = Flaky(times=1_000)

    with pytest.raises(OperationalError):
        reconnect.retrying(flaky, "never")
    assert 2 <= flaky.calls < 10


def test_it_retries_nothing_inside_a_callers_transaction(transactional_db, settings):
    settings.DIHYA_DB_RETRY = 5
    flaky = Flaky(times=1)

    with pytest.raises(OperationalError), transaction.atomic():
        reconnect.retrying(flaky, "lost with the caller's work")
    assert flaky.calls == 1
