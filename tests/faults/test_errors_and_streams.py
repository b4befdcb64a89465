"""Cases 3 to 5: a primary answering 500 then recovering, answering 429 with Retry-After, and
dying mid-stream."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from dihya.gateway.models import Generation
from dihya.generation import pipeline
from dihya.generation.requests import ChatBody
from fallbacks import breaker_control
from fallbacks.errors import ProviderError
from tests.conftest import wait_until
from tests.faults.conftest import ask, outcomes

pytestmark = pytest.mark.engine


def patient(primary) -> None:
    """A primary that must really answer gets time to (the machine may be busy)."""
    type(primary).objects.filter(pk=primary.pk).update(read_timeout=20, total_timeout=30)


def state_of(name: str) -> dict:
    return {s["engine"]: s for s in breaker_control.snapshot()}[name]


def test_it_retries_500s_opens_then_closes_after_the_probe(db, primary_and_llama, proxy,
                                                          settings):
    settings.DIHYA_BREAKER_COOLDOWN = 0.3
    patient(primary_and_llama[0])
    proxy.set("status", status=500, times=4)

    first, second = ask(), ask()

    assert first.engine_name == second.engine_name == "llama"
    # One retry of the same engine (the route's default), then the next engine.
    assert outcomes(first) == [("primary", "server_error"), ("primary", "server_error"),
                               ("llama", "ok")]
    assert outcomes(second) == outcomes(first)
    assert state_of("primary")["state"] == "open"

    # The primary has recovered: after the cooldown one probe closes the breaker.
    served = wait_until(lambda: ask().engine_name == "primary", timeout=30, what="the probe")
    assert served
    assert state_of("primary")["state"] == "closed"
    assert ask().engine_name == "primary"


def test_a_429_puts_the_primary_in_cooldown_until_its_reset(db, primary_and_llama, proxy,
                                                           django_capture_on_commit_callbacks):
    patient(primary_and_llama[0])
    # Long enough that the next call lands inside the cooldown even on a loaded machine.
    proxy.set("status", status=429, times=1, headers={"Retry-After": "6"},
              body='{"error": {"message": "Rate limit reached", "type": "requests"}}')

    with django_capture_on_commit_callbacks(execute=True):
        limited = ask()
    skipped = ask()

    assert outcomes(limited) == [("primary", "rate_limited"), ("llama", "ok")], proxy.seen
    assert outcomes(skipped) == [("primary", "quota_cooldown"), ("llama", "ok")]
    state = state_of("primary")
    assert state["state"] == "open" and state["reason"] == "quota" and state["next_probe"]
    from quotas.models import Alert

    assert Alert.objects.filter(subject="engine:primary").count() == 1

    back = wait_until(lambda: ask().engine_name == "primary", timeout=30, what="the reset")
    assert back
    assert proxy.seen == 2
    assert state_of("primary")["state"] == "closed"


def stream_all(route: str = "r") -> tuple[Generation, str, Exception | None]:
    body = ChatBody(model=route, messages=[{"role": "user", "content": "Count to ten"}],
                    max_tokens=4, stream=True)
    admission = pipeline.admit(pipeline.Caller(client=None), body)

    async def consume() -> tuple[str, Exception | None]:
        started = await pipeline.stream(admission)
        text = ""
        try:
            async for delta in started.deltas:
                text += delta.text
        except ProviderError as exc:
            return text, exc
        return text, None

    text, error = async_to_sync(consume)()
    return Generation.objects.get(pk=admission.generation.pk), text, error


def test_a_stream_cut_mid_way_ends_with_an_error_and_calls_fall_back(db, primary_and_llama,
                                                                    proxy):
    patient(primary_and_llama[0])
    proxy.set("cut", cut_after=900)

    generation, text, error = stream_all()

    assert error is not None, (outcomes(generation), text, proxy.seen)
    assert generation.status == "failed"
    assert generation.error_code == "engine_failed_mid_stream"
    assert outcomes(generation) == [("primary", "connect_error")]

    proxy.set("cut", cut_after=10)
    fallen_back = ask()
    assert fallen_back.status == "succeeded"
    assert outcomes(fallen_back) == [("primary", "connect_error"), ("llama", "ok")]
