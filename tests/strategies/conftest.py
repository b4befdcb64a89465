"""Strategies remember latencies in process memory too: a test must not inherit another's."""

from __future__ import annotations

import pytest

from fallbacks import latency


@pytest.fixture(autouse=True)
def _forget_latency():
    latency.board().forget()
    yield
    latency.board().forget()
