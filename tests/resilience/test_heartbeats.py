"""Streams' heartbeats (dihya.generation.heartbeats): noted without waiting, written many to one
UPDATE, a stream's end after its own beat, and a beat that cannot be written never cuts an
answer. (Before, each beat was a thread hop and an UPDATE the stream awaited mid-answer.)"""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from dihya.generation import heartbeats


@pytest.fixture
def writes(monkeypatch):
    """The writes heartbeats makes, each a set of ids; the first is held until `go` is set."""
    made: list[set[uuid.UUID]] = []
    go = threading.Event()

    def write(ids):
        made.append(set(ids))
        if len(made) == 1:
            go.wait(5)
        return len(ids)

    monkeypatch.setattr(heartbeats, "write", write)
    return made, go


def test_beats_noted_during_a_write_are_written_together_in_the_next(writes):
    made, go = writes
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def streams() -> None:
        beats = heartbeats.Beats()
        beats.beat(a)
        await asyncio.sleep(0.05)  # the first write is under way, and held
        beats.beat(b)
        beats.beat(c)
        beats.beat(b)  # twice before it is written: once in the write
        go.set()
        await beats.written(c)
        assert not beats.noted and not beats.writing

    asyncio.run(streams())
    assert made == [{a}, {b, c}]


def test_a_stream_waits_for_its_own_beat_and_not_for_later_ones(writes):
    made, go = writes
    a = uuid.uuid4()

    async def stream() -> bool:
        beats = heartbeats.Beats()
        beats.beat(a)
        waiting = asyncio.ensure_future(beats.written(a))
        await asyncio.sleep(0.05)
        held = not waiting.done()  # its beat is in the held write
        go.set()
        await waiting
        return held

    assert asyncio.run(stream()) is True
    assert made == [{a}]


def test_a_beat_that_cannot_be_written_is_logged_and_the_stream_goes_on(monkeypatch, caplog):
    def broken(ids):
        raise RuntimeError("the database is restarting")

    monkeypatch.setattr(heartbeats, "write", broken)
    a = uuid.uuid4()

    async def stream() -> None:
        beats = heartbeats.Beats()
        beats.beat(a)
        await beats.written(a)  # returns: nothing to wait for any more
        assert beats.task is not None and beats.task.exception() is None

    asyncio.run(stream())
    assert "heartbeats not written" in caplog.text
