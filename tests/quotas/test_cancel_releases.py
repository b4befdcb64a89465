"""A queued job cancelled before it ran gives its quota back."""

from __future__ import annotations

from dihya.gateway.models import ApiClient
from dihya.generation import jobs, pipeline
from dihya.generation.requests import ChatBody
from quotas.models import Assignment, Limit, Plan


def test_it_releases_the_reservation_of_a_cancelled_job(db, make_engine, make_route, dead_url):
    route = make_route("default", make_engine(dead_url))
    client = ApiClient.objects.create(name="billing")
    client.routes.add(route)
    plan = Plan.objects.create(name="one")
    Limit.objects.create(plan=plan, metric="requests", period="minute", amount=1, hard=True)
    Assignment.objects.create(plan=plan, client=client)
    caller = pipeline.Caller(client=client, allowed_routes=frozenset({route.pk}))
    body = ChatBody(model="default", messages=[{"role": "user", "content": "hi"}])

    first = pipeline.admit(caller, body, queued=True).generation
    assert jobs.cancel(first)

    second = pipeline.admit(caller, body, queued=True).generation  # would be refused if held
    assert second.pk != first.pk
