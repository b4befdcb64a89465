"""Fault-injection fixtures: a proxy in front of the session's real llama.cpp engine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from asgiref.sync import async_to_sync

from dihya.gateway.models import Generation
from dihya.generation import pipeline
from dihya.generation.errors import Refusal
from dihya.generation.requests import ChatBody
from tests.faults.proxy import FaultProxy


@pytest.fixture
def proxy(llama) -> Iterator[FaultProxy]:
    p = FaultProxy(llama)
    yield p
    p.close()


@pytest.fixture(autouse=True)
def fast_breaker(settings):
    settings.DIHYA_BREAKER_FAILURES = 3
    settings.DIHYA_BREAKER_COOLDOWN = 30.0
    settings.DIHYA_BREAKER_REFRESH = 0.0


@pytest.fixture
def primary_and_llama(make_engine, make_route, proxy, llama):
    """Route `r`: the proxied primary (short timeouts), then llama directly."""
    primary = make_engine(proxy.url, name="primary", read_timeout=0.5, connect_timeout=0.5,
                          total_timeout=5)
    backup = make_engine(llama, name="llama")
    make_route("r", primary, backup, max_tokens=4)
    return primary, backup


def ask(route: str = "r", prompt: str = "Say hi") -> Generation:
    """One non-streamed generation through the whole pipeline; returns its stored row."""
    body = ChatBody(model=route, messages=[{"role": "user", "content": prompt}], max_tokens=4)
    admission = pipeline.admit(pipeline.Caller(client=None), body)
    with contextlib.suppress(Refusal):  # a failure is on the row, which is what we check
        async_to_sync(pipeline.complete)(admission)
    return Generation.objects.get(pk=admission.generation.pk)


def outcomes(generation: Generation) -> list[tuple[str, str]]:
    return [(a.engine_name, a.outcome) for a in generation.attempts.order_by("id")]
