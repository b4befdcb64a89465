"""Borrowed library internals are fenced: on a version they were not written for, the system
check warns and the library's stock path is taken, and it works."""

from __future__ import annotations

import asyncio
import threading

import httpcore
import httpx
import pytest
from django.core.checks import run_checks
from django.db import connections

from dihya.generation import hops
from dihya.lib import fences
from fallbacks import pool
from tests.resilience.test_pool import Server


@pytest.fixture
def upgraded(monkeypatch):
    """Pretend `library` is installed at another version than its fences were written for."""
    real = fences.installed

    def pretend(library: str, now: str = "99.0") -> None:
        monkeypatch.setattr(fences, "installed",
                            lambda name: now if name == library else real(name))

    return pretend


def warned() -> list[str]:
    return [m.msg for m in run_checks() if m.id == "dihya.W020"]


def test_no_fence_warns_on_the_versions_installed():
    assert warned() == []
    assert all(fence.holds() for fence in fences.declared())
    assert type(pool.Transport(httpx.Limits())._pool) is pool.Pool


def test_another_httpcore_is_warned_and_served_by_its_stock_pool(upgraded):
    upgraded("httpcore", "1.0.10")

    [message] = warned()
    transport = pool.Transport(httpx.Limits(max_connections=2))

    assert "httpcore 1.0.10" in message and "fallbacks.pool" in message
    assert type(transport._pool) is httpcore.AsyncConnectionPool

    async def calls() -> list[str]:
        async with Server(delay=0.01) as url, httpx.AsyncClient(transport=transport) as http:
            answers = await asyncio.gather(*(http.post(url, content=b"hi") for _ in range(5)))
        return [a.text for a in answers]

    assert asyncio.run(calls()) == ["ok"] * 5


def test_another_asgiref_makes_every_hop_plain_sync_to_async(upgraded, monkeypatch):
    upgraded("asgiref", "3.99.0")
    monkeypatch.setattr(hops, "_hops", {})

    def where() -> str:
        return threading.current_thread().name

    [message] = warned()
    ran_on = asyncio.run(hops.db(where)())

    assert "asgiref 3.99.0" in message
    assert not ran_on.startswith("dihya-db")  # not our pool: asgiref's own thread


def test_another_django_tidies_connections_the_stock_way(upgraded, db, monkeypatch):
    upgraded("django", "6.0")
    asked: list[str] = []
    default = connections["default"]
    monkeypatch.setattr(type(default), "close_if_unusable_or_obsolete",
                        lambda self: asked.append(self.alias))
    default.ensure_connection()

    hops.tidy()

    assert "default" in asked
    assert any("django 6.0" in m for m in warned())




def test_another_django_gives_the_api_lane_the_console_chain_and_stock_hops(upgraded, db,
                                                                             monkeypatch):
    """The API lane's two borrowings (dihya.lanes): on another Django the API handler
    builds settings.MIDDLEWARE like the console's, and its security middleware runs Django's
    own way, in a thread; an API call is still answered, with the security headers."""
    from asgiref.sync import async_to_sync
    from django.middleware.security import SecurityMiddleware
    from django.test import override_settings

    from dihya import lanes
    from tests import test_lanes as test_lane

    upgraded("django", "6.0")
    test_lane.built.clear()
    with override_settings(DIHYA_API_MIDDLEWARE=["tests.test_lanes.ApiOnly"],
                           MIDDLEWARE=["tests.test_lanes.ConsoleOnly"]):
        lanes.ApiHandler()
    assert test_lane.built == ["console"]
    assert sum("django 6.0" in m and "dihya.lanes" in m for m in warned()) == 2

    threads: set[int] = set()
    original = SecurityMiddleware.process_request
    monkeypatch.setattr(SecurityMiddleware, "process_request",
                        lambda self, request: threads.add(threading.get_ident())
                        or original(self, request))
    with override_settings(MIDDLEWARE=["dihya.lanes.Security"]):
        status, headers, loop_thread = async_to_sync(test_lane.call)(lanes.ApiHandler())
    assert status == 401 and headers[b"X-Content-Type-Options"] == b"nosniff"
    assert threads and loop_thread not in threads  # Django's hop, not the event loop
