"""Per-engine concurrency caps that hold across processes (`Engine.max_concurrency`), and the
engines' batch shares (`Engine.batch_share`).

A self-hosted llama.cpp has a few slots; an extra request queues inside the server and
answers late. Each slot is a row leased by one request (a conditional UPDATE, so two
processes can never hold the same one); a lease expires on its own, so a process killed while
holding slots gives them back after `lease` seconds.

Engines without a cap cost nothing here: `acquire` returns at once without any I/O — unless
they are `counted` (an engine of a `least_busy` route): then each request in flight is a lease
row of its own (numbered from COUNTED, outside any cap's numbers), inserted when it starts and
deleted when it ends, so that every process can count them. `in_flight` answers from memory:
the counts `refresh_load` read before the run, plus this process's own requests since.

A batch line (the caller says so: `acquire(batch=True)`) on an engine with a batch share must
also hold one of its `batch_share` tickets: lease rows like slots, numbered from TICKETS and
held by the same holder as the request's slot, so one UPDATE frees both. No ticket free: the
engine is at its share and the line is told so at once (SHARE_FULL), never made to wait —
it runs later, and the slots the share leaves stay for live calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
import time
import uuid
from collections.abc import Iterable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError
from django.db.models import Count, Q
from django.utils import timezone

from fallbacks.spec import EngineSpec

WAIT_STEP = 0.05
COUNTED = 1_000_000  # numbers of the leases that only count (engines without a cap)
TICKETS = 1_100_000_000  # numbers of the batch shares' tickets (past COUNTED + 2**30)


class Slot:
    """A slot that holds nothing: for engines without a cap."""

    async def keep(self) -> None:
        return None

    async def release(self) -> None:
        return None


NOOP = Slot()
SHARE_FULL = Slot()  # a batch line found the engine at its batch share: nothing is held


class Lease(Slot):
    def __init__(self, engine_id: int, holder: str, counted: bool = False,
                 seconds: float = 130.0, ticket: bool = False) -> None:
        self.engine_id = engine_id
        self.holder = holder
        self.counted = counted
        self.ticket = ticket
        self.seconds = seconds
        self.renew_at = time.monotonic() + seconds / 2
        self.released = False
        _load.started(engine_id)

    async def keep(self) -> None:
        """Extend the lease while its request still runs (a stream may outlast it): past half
        its length, one UPDATE pushes the expiry a whole length further. Without it a long
        stream's slot expired and another request took it: the cap overshot."""
        if self.released or time.monotonic() < self.renew_at:
            return
        self.renew_at = time.monotonic() + self.seconds / 2
        await sync_to_async(extend)(self.engine_id, self.holder, self.seconds)

    async def release(self) -> None:
        if not self.released:
            self.released = True
            _load.ended(self.engine_id)
            await sync_to_async(let_go)(self.engine_id, self.holder, self.counted, self.ticket)


async def acquire(engine: EngineSpec, wait_until: float | None = None, *,
                  batch: bool = False) -> Slot | None:
    """A slot of `engine`, or None when all are taken (after waiting until `wait_until`).
    `batch`: the request is a batch line, which must hold a ticket of the engine's batch share
    too, or gets SHARE_FULL at once."""
    holder = uuid.uuid4().hex
    lease = engine.total_timeout + 10.0
    ticket = batch and engine.batch_share is not None
    if ticket and not await sync_to_async(take)(engine.id, engine.batch_share or 0, holder,
                                                lease, TICKETS):
        return SHARE_FULL
    if not engine.max_concurrency:
        if engine.counted:
            await sync_to_async(count)(engine.id, holder, lease)
        elif not ticket:
            return NOOP
        return Lease(engine.id, holder, counted=engine.counted, seconds=lease, ticket=ticket)
    while True:
        if await sync_to_async(take)(engine.id, engine.max_concurrency, holder, lease):
            return Lease(engine.id, holder, seconds=lease, ticket=ticket)
        if wait_until is None or time.monotonic() + WAIT_STEP >= wait_until:
            if ticket:
                await sync_to_async(free)(engine.id, holder)
            return None
        await asyncio.sleep(WAIT_STEP)


def take(engine_id: int, cap: int, holder: str, lease: float, base: int = 0) -> bool:
    """Lease one of the rows numbered base … base + cap - 1 (an engine's slots, or from
    TICKETS its batch share's tickets)."""
    from fallbacks.models import EngineSlot

    if cap < 1:
        return False
    now = timezone.now()
    free_now = Q(holder="") | Q(expires__lt=now)
    start = random.randrange(cap)  # noqa: S311 - spreads contention, not a secret
    for i in range(cap):
        number = base + (start + i) % cap
        if EngineSlot.objects.filter(free_now, engine_id=engine_id, number=number).update(
                holder=holder, expires=now + dt.timedelta(seconds=lease)):
            return True
    if EngineSlot.objects.filter(engine_id=engine_id, number__gte=base,
                                 number__lt=base + cap).count() < cap:
        EngineSlot.objects.bulk_create(
            [EngineSlot(engine_id=engine_id, number=base + n) for n in range(cap)],
            ignore_conflicts=True)
        return take(engine_id, cap, holder, lease, base)
    return False


def let_go(engine_id: int, holder: str, counted: bool, ticket: bool) -> None:
    """Give back what a request held: its count row deleted (first: `free` clears the
    holder it is found by), its slot and ticket freed."""
    if counted:
        drop(engine_id, holder)
    if ticket or not counted:
        free(engine_id, holder)


def extend(engine_id: int, holder: str, seconds: float) -> None:
    from fallbacks.models import EngineSlot

    EngineSlot.objects.filter(engine_id=engine_id, holder=holder).update(
        expires=timezone.now() + dt.timedelta(seconds=seconds))


def free(engine_id: int, holder: str) -> None:
    from fallbacks.models import EngineSlot

    EngineSlot.objects.filter(engine_id=engine_id, holder=holder).update(holder="", expires=None)


def count(engine_id: int, holder: str, lease: float) -> None:
    """A lease row that only counts a request in flight (an engine without a cap)."""
    from fallbacks.models import EngineSlot

    expires = timezone.now() + dt.timedelta(seconds=lease)
    for _ in range(3):
        number = COUNTED + random.randrange(2**30)  # noqa: S311 - a row number, not a secret
        try:
            EngineSlot.objects.create(engine_id=engine_id, number=number, holder=holder,
                                      expires=expires)
            return
        except IntegrityError:  # that number is taken: draw another
            continue


def drop(engine_id: int, holder: str) -> None:
    from fallbacks.models import EngineSlot

    EngineSlot.objects.filter(engine_id=engine_id, holder=holder,
                              number__gte=COUNTED, number__lt=TICKETS).delete()


def in_use(engine_id: int) -> int:
    from fallbacks.models import EngineSlot

    return (EngineSlot.objects.filter(engine_id=engine_id, expires__gte=timezone.now(),
                                      number__lt=TICKETS)
            .exclude(holder="").count())


def in_use_by_engine(engine_ids: Iterable[int], *, tickets: bool = False) -> dict[int, int]:
    """Requests in flight per engine, across processes, in one query (`tickets`: batch lines
    in flight, on engines with a batch share)."""
    from fallbacks.models import EngineSlot

    rows = Q(number__gte=TICKETS) if tickets else Q(number__lt=TICKETS)
    return dict(EngineSlot.objects.filter(rows, engine_id__in=list(engine_ids),
                                          expires__gte=timezone.now())
                .exclude(holder="").values("engine_id").annotate(n=Count("id"))
                .values_list("engine_id", "n"))


def batch_room(engines: Iterable[EngineSpec]) -> bool:
    """Whether one of these engines (a route's) has room in its batch share now: what a batch
    line looks at before it is admitted, so that one sure to find every share full waits
    without a generation. A hint (another line may take the ticket first): the ticket the
    runner takes is what holds the share."""
    shares = {e.id: e.batch_share for e in engines}
    if not shares or any(share is None for share in shares.values()):
        return True
    held = in_use_by_engine(shares, tickets=True)
    return any(held.get(engine_id, 0) < (share or 0) for engine_id, share in shares.items())


class Load:
    """Requests in flight per engine as this process knows them (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded: dict[int, int] = {}   # every process's, as last read
        self.mine: dict[int, int] = {}     # this process's, now
        self.mine_then: dict[int, int] = {}  # this process's, when last read
        self.loaded_at = -1e9

    def started(self, engine_id: int) -> None:
        with self.lock:
            self.mine[engine_id] = self.mine.get(engine_id, 0) + 1

    def ended(self, engine_id: int) -> None:
        with self.lock:
            self.mine[engine_id] = self.mine.get(engine_id, 0) - 1

    def in_flight(self, engine_id: int) -> int:
        with self.lock:
            since = self.mine.get(engine_id, 0) - self.mine_then.get(engine_id, 0)
            return max(0, self.loaded.get(engine_id, 0) + since)

    def refresh(self, engine_ids: Iterable[int], force: bool = False) -> None:
        ids = list(engine_ids)
        fresh = time.monotonic() - self.loaded_at < settings.DIHYA_LOAD_REFRESH
        if not force and fresh and all(i in self.loaded for i in ids):
            return
        # This process's own count is taken before the database is read: a request that
        # starts in between is then counted twice for a moment, never missed (least_busy
        # would send the next request to an engine it believes idle).
        with self.lock:
            mine_then = dict(self.mine)
        counts = in_use_by_engine(ids)
        with self.lock:
            self.loaded = {**self.loaded, **dict.fromkeys(ids, 0), **counts}
            self.mine_then = mine_then
            self.loaded_at = time.monotonic()


_load = Load()


def in_flight(engine_id: int) -> int:
    return _load.in_flight(engine_id)


def refresh_load(engine_ids: Iterable[int], force: bool = False) -> None:
    _load.refresh(engine_ids, force)
