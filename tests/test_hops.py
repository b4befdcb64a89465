"""dihya.generation.hops tells a synchronous caller waiting through AsyncToSync from an async
one (pins the one read of asgiref's internals: an asgiref upgrade that changes it fails here)."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync

from dihya.generation.hops import under_sync_caller


async def asked() -> bool:
    return under_sync_caller()


def test_it_knows_a_synchronous_caller_waits():
    assert async_to_sync(asked)() is True


def test_it_knows_an_event_loop_caller_does_not():
    assert asyncio.run(asked()) is False


def test_writers_of_one_process_take_turns_before_asking_sqlite(transactional_db):
    """While one thread of this process writes, another waits on the process's lock (handed
    over at once) rather than in SQLite's sleeping busy handler."""
    import threading

    from django.db import connection

    from dihya.generation import hops

    if connection.vendor != "sqlite":
        with hops.one_writer():  # PostgreSQL: no turn to take, nothing held
            assert not hops._writer._is_owned()  # type: ignore[attr-defined]
        return
    entered = threading.Event()

    def other() -> None:
        with hops.one_writer():
            entered.set()

    with hops.one_writer():
        thread = threading.Thread(target=other)
        thread.start()
        assert not entered.wait(0.2)  # it waits for this writer's turn to end
    assert entered.wait(5)
    thread.join()
