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
