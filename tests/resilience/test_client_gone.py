"""A client that goes away while Dihya waits on an engine leaves nothing held behind: the
generation is recorded as client_disconnected, its quota reservation and any half-open probe
it took are released, whatever path it was on (plain or streamed)."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
import respx

from dihya.gateway.models import ApiClient, Generation
from dihya.generation import pipeline
from dihya.generation.requests import ChatBody
from fallbacks import breaker, catalog
from fallbacks.errors import Failure, ProviderError
from fallbacks.models import BreakerState
from quotas.models import Assignment, Limit, Plan, Reservation
from tests.conftest import recorded

URL = "http://hanging.test/v1"


async def hang(request: httpx.Request) -> httpx.Response:
    await asyncio.Event().wait()  # an engine that never answers
    raise AssertionError("unreachable")


@pytest.fixture
def probing(transactional_db, make_engine, make_route, settings):
    """A route whose only engine's breaker is open and due for its probe."""
    settings.DIHYA_BREAKER_COOLDOWN = 0.0
    settings.DIHYA_BREAKER_REFRESH = 0.0
    engine = make_engine(URL, name="flaky", read_timeout=60.0)
    route = make_route("default", engine)
    client = ApiClient.objects.create(name="app")
    client.routes.add(route)
    plan = Plan.objects.create(name="p")
    Limit.objects.create(plan=plan, metric="requests", period="minute", amount=10, hard=True)
    Assignment.objects.create(plan=plan, client=client)
    board = breaker.health()
    spec = catalog.engine_spec(engine)
    for _ in range(settings.DIHYA_BREAKER_FAILURES):
        board.record(spec, ProviderError(Failure.CONNECT, "refused"))
    board.flush()
    return pipeline.Caller(client=client, allowed_routes=frozenset({route.pk})), engine


@pytest.mark.parametrize("streamed", [False, True])
@respx.mock
def test_a_client_gone_mid_probe_releases_the_probe_and_the_reservation(probing, streamed):
    caller, engine = probing
    respx.post(f"{URL}/chat/completions").mock(side_effect=hang)
    body = ChatBody(model="default", stream=streamed,
                    messages=[{"role": "user", "content": "hi"}])
    admission = pipeline.admit(caller, body)  # claims the probe
    assert BreakerState.objects.get(engine_id=engine.pk).state == "half_open"

    async def client_goes_away() -> None:
        work = pipeline.stream(admission) if streamed else pipeline.complete(admission)
        task = asyncio.ensure_future(work)
        await asyncio.sleep(0.3)  # the engine is being probed and says nothing
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(client_goes_away())
    recorded()

    g = Generation.objects.get(pk=admission.generation.pk)
    assert (g.status, g.error_code) == ("failed", "client_disconnected")
    assert Reservation.objects.get(generation_id=g.pk).state == "released"
    row = BreakerState.objects.get(engine_id=engine.pk)
    assert (row.state, row.probe_until) == ("open", None)  # free for the next probe
    assert breaker.health().views[engine.pk].probe == ""
