"""A stream's signs of life to the reaper, written for many streams at once.

A stream beats once its answer has begun (if its process then dies, the reaper charges it:
it served something; `pipeline.abandon`) and every DIHYA_STREAM_HEARTBEAT seconds after (the
reaper leaves a running row with a recent beat alone). Each beat used to be a thread hop and
an UPDATE that the stream awaited before its next chunk: with 400 streams beginning within
two seconds, 400 hops queued behind the admissions on the database threads, and streams
waited mid-answer for their turn.

Here a beat is noted in memory and the stream goes on at once. One writer per event loop
writes every beat noted meanwhile in one UPDATE on a database thread, and starts again while
beats keep coming: a beat is written as soon as the database lets it, never later than one
write after it was noted. A stream's end waits for its own beat (`written`), so a stream that
began is never recorded as ended before its beat is on its row. A beat that cannot be written
(the database restarting) is logged, and the answer goes on: the reaper is the one who reads
it, not the client.

Must never raise into a stream, and never run a statement on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from uuid import UUID

from django.db.models import Q
from django.utils import timezone

from dihya.gateway.models import Generation
from dihya.generation import hops

log = logging.getLogger(__name__)


def write(generation_ids: Iterable[UUID]) -> int:
    """One UPDATE: these generations, if still running, are alive now."""
    with hops.one_writer():
        return Generation.objects.filter(Q(pk__in=list(generation_ids)),
                                         status=Generation.Status.RUNNING).update(
            heartbeat=timezone.now())


class Beats:
    """The beats of one event loop's streams, and the one task that writes them."""

    def __init__(self) -> None:
        self.noted: set[UUID] = set()    # not yet handed to a write
        self.writing: set[UUID] = set()  # in the write under way
        self.task: asyncio.Task[None] | None = None

    def beat(self, generation_id: UUID) -> None:
        self.noted.add(generation_id)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._write())

    async def written(self, generation_id: UUID) -> None:
        """Return once this generation's beats noted so far are written (or failed to be)."""
        while (generation_id in self.noted or generation_id in self.writing) and (
                self.task is not None and not self.task.done()):
            await asyncio.shield(self.task)

    async def _write(self) -> None:
        while self.noted:
            self.writing, self.noted = self.noted, set()
            try:
                await hops.db(write)(self.writing)
            except Exception as exc:  # the database restarting: the next beat may do
                log.warning("%d streams' heartbeats not written: %s", len(self.writing), exc)
            finally:
                self.writing = set()


_beats: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Beats] = (
    weakref.WeakKeyDictionary())


def of_this_loop() -> Beats:
    loop = asyncio.get_running_loop()
    beats = _beats.get(loop)
    if beats is None:
        beats = _beats[loop] = Beats()
    return beats


async def beat(generation_id: UUID) -> None:
    """Note that this stream is alive. Under a synchronous caller that waits for us (Django's
    test client), written at once on its thread: it may hold a transaction the write must
    see, and its event loop ends with the call."""
    if hops.under_sync_caller():
        try:
            await hops.db(write)([generation_id])
        except Exception as exc:
            log.warning("generation %s: heartbeat not written: %s", generation_id, exc)
        return
    of_this_loop().beat(generation_id)


async def written(generation_id: UUID) -> None:
    """Wait until this stream's beats are written, so that its end comes after them."""
    beats = _beats.get(asyncio.get_running_loop())
    if beats is not None:
        await beats.written(generation_id)
