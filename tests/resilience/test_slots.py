"""Per-engine concurrency caps: held across processes by leased rows."""

from __future__ import annotations

import datetime as dt
import time

from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone

from fallbacks import catalog, slots
from fallbacks.spec import EngineSpec


def spec(make_engine, dead_url, cap) -> EngineSpec:
    return catalog.engine_spec(make_engine(dead_url, max_concurrency=cap))


def test_an_engine_without_a_cap_needs_no_slot(db, make_engine, dead_url,
                                              django_assert_num_queries):
    engine = spec(make_engine, dead_url, None)
    with django_assert_num_queries(0):
        assert async_to_sync(slots.acquire)(engine) is slots.NOOP


def test_the_cap_holds_and_a_released_slot_is_free_again(db, make_engine, dead_url):
    engine = spec(make_engine, dead_url, 2)
    first = async_to_sync(slots.acquire)(engine)
    second = async_to_sync(slots.acquire)(engine)

    assert first and second
    assert async_to_sync(slots.acquire)(engine) is None
    assert slots.in_use(engine.id) == 2

    async_to_sync(second.release)()
    assert async_to_sync(slots.acquire)(engine) is not None


def test_waiting_gives_up_at_the_deadline(db, make_engine, dead_url):
    engine = spec(make_engine, dead_url, 1)
    assert async_to_sync(slots.acquire)(engine)

    assert async_to_sync(slots.acquire)(engine, time.monotonic() + 0.2) is None


def test_a_lease_of_a_dead_process_expires(db, make_engine, dead_url):
    engine = spec(make_engine, dead_url, 1)
    assert slots.take(engine.id, 1, "dead-process", lease=-1)  # already expired

    assert slots.take(engine.id, 1, "alive", lease=30)


def test_a_long_stream_keeps_its_slot_past_the_lease(db, make_engine, dead_url):
    # Issue 14 #11: a lease is the engine's total timeout + 10 s; a stream that lasted longer
    # lost its slot to the next request, and the cap overshot. The relay renews it.
    from fallbacks.models import EngineSlot
    from fallbacks.runner import holding
    from fallbacks.spec import Delta

    engine = catalog.engine_spec(make_engine(dead_url, max_concurrency=1, total_timeout=0.1))
    lease = async_to_sync(slots.acquire)(engine)  # a lease of 10.1 s
    assert isinstance(lease, slots.Lease)
    EngineSlot.objects.filter(holder=lease.holder).update(  # almost run out
        expires=timezone.now() + dt.timedelta(seconds=1))
    lease.renew_at = 0.0  # and past half its length

    async def long_stream():
        for word in ("a", "b"):
            yield Delta(text=word)

    def expiry() -> str:
        left = EngineSlot.objects.get(holder=lease.holder).expires - timezone.now()
        return "renewed" if left > dt.timedelta(seconds=9) else f"{left} left"

    async def while_streaming() -> str:
        stream = holding(long_stream(), lease)
        await anext(stream)
        await anext(stream)  # the relay asked for more: the lease was renewed meanwhile
        state = await sync_to_async(expiry)()
        await stream.aclose()
        return state

    assert async_to_sync(while_streaming)() == "renewed"
    assert async_to_sync(slots.acquire)(engine) is not None  # released at the end
