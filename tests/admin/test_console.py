"""The "Test engine" / "Test route" buttons queue a real generation; pages follow it live."""

from __future__ import annotations

import httpx
import pytest
import respx
from django.urls import reverse

from dihya.gateway.models import Generation
from dihya.generation import jobs, pipeline
from fallbacks.models import Engine, Route, RouteEngine
from tests.admin.conftest import make_generation

JSON = {"HTTP_ACCEPT": "application/json"}


def test_testing_an_engine_queues_a_generation_on_that_engine_alone(admin_client, seeded):
    engine = Engine.objects.get(name="second")

    response = admin_client.post(reverse("admin:engine-test", args=[engine.pk]), **JSON)

    assert response.status_code == 202
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.status == "queued" and generation.source == "admin"
    assert generation.client is None and generation.route is None
    route = pipeline.route_for(generation)
    assert route is not None and [e.name for e in route.engines] == ["second"]
    assert response.json()["progress"] == reverse("admin:generation-progress",
                                                  args=[generation.pk])


def test_a_disabled_engine_can_still_be_tested(admin_client, seeded):
    engine = Engine.objects.get(name="second")
    Engine.objects.filter(pk=engine.pk).update(enabled=False)

    admin_client.post(reverse("admin:engine-test", args=[engine.pk]), **JSON)

    route = pipeline.route_for(Generation.objects.get())
    assert route is not None and [e.name for e in route.engines] == ["second"]


def test_testing_a_route_uses_its_current_order(admin_client, seeded):
    route = Route.objects.get()

    response = admin_client.post(reverse("admin:route-test", args=[route.pk]), **JSON)

    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.route_id == route.pk and generation.route_name == "default"


def test_without_javascript_the_button_leads_to_the_generation_page(admin_client, seeded):
    response = admin_client.post(reverse("admin:route-test", args=[Route.objects.get().pk]))

    generation = Generation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:gateway_generation_change",
                                           args=[generation.pk])


def test_the_test_views_take_posts_only(admin_client, seeded):
    url = reverse("admin:engine-test", args=[Engine.objects.get(name="first").pk])

    assert admin_client.get(url).status_code == 405
    assert not Generation.objects.exists()


def test_a_tested_engine_runs_on_a_worker_and_reports_its_attempts(admin_client, db, dead_url,
                                                                     make_engine):
    engine = make_engine(dead_url, name="down")
    started = admin_client.post(reverse("admin:engine-test", args=[engine.pk]), **JSON).json()

    assert jobs.run(started["id"]) == "failed"

    live = admin_client.get(started["progress"]).json()
    assert live["terminal"] and live["status"] == "failed"
    assert [(a["engine"], a["outcome"]) for a in live["attempts"]] == [("down",
                                                                        "connect_error")]
    assert live["error_code"] == "all_engines_failed"


def test_the_change_pages_show_the_buttons(admin_client, seeded):
    engine = Engine.objects.get(name="first")

    engine_page = admin_client.get(reverse("admin:fallbacks_engine_change", args=[engine.pk]))
    route_page = admin_client.get(reverse("admin:fallbacks_route_change",
                                          args=[Route.objects.get().pk]))

    assert "Test engine" in engine_page.content.decode()
    assert reverse("admin:engine-test", args=[engine.pk]) in engine_page.content.decode()
    assert "Test route" in route_page.content.decode()
    assert 'id="dihya-live"' in route_page.content.decode()


def test_the_generation_list_marks_rows_to_update_live(admin_client, seeded):
    queued = make_generation(status="queued", attempts=0)

    page = admin_client.get(reverse("admin:gateway_generation_changelist")).content.decode()

    assert f'data-generation="{queued.pk}" data-status="queued"' in page
    assert reverse("admin:generation-statuses") in page


def test_the_status_feed_answers_for_the_ids_asked_only(admin_client, seeded):
    queued = make_generation(status="queued", attempts=0)
    make_generation(status="failed")
    url = reverse("admin:generation-statuses")

    data = admin_client.get(url, {"id": [str(queued.pk), "not-a-uuid"]}).json()

    assert data == {"statuses": {str(queued.pk): "queued"}}


@pytest.mark.parametrize("name", ["admin:generation-statuses", "admin:dashboard-json"])
def test_the_feeds_are_for_staff_only(client, db, name):
    assert client.get(reverse(name)).status_code == 302


@respx.mock
def test_testing_a_route_says_what_its_strategy_picked_and_why(admin_client, db, make_engine):
    ok = {"choices": [{"message": {"content": "fine"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
    respx.post("http://127.0.0.1:9101/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=ok))
    heavy = make_engine("http://127.0.0.1:9101/v1", name="heavy")
    standby = make_engine("http://127.0.0.1:9102/v1", name="standby")
    route = Route.objects.create(name="split", strategy="weighted")
    RouteEngine.objects.create(route=route, engine=heavy, position=0, weight=5)
    RouteEngine.objects.create(route=route, engine=standby, position=1, weight=0)
    started = admin_client.post(reverse("admin:route-test", args=[route.pk]), **JSON).json()

    assert jobs.run(started["id"]) == "succeeded"

    live = admin_client.get(started["progress"]).json()
    assert live["engine"] == "heavy"
    assert live["choice"] == ("weighted: weighted draw: heavy (weight 5 of 5); "
                              "standby: standby")
