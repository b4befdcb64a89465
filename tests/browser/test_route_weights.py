"""An admin turns a route to `weighted` with weights in the route editor; the next requests
split across the real engines as weighted (the issue's "done when")."""

from __future__ import annotations

import random
from collections import Counter

import httpx
import pytest
from playwright.sync_api import expect

from dihya.gateway import keys
from dihya.gateway.models import ApiClient
from fallbacks.models import Route
from fallbacks.strategies import base
from tests.browser.conftest import log_in, screenshot
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.engine


def test_an_admin_weighs_a_route_and_requests_split(page, superuser, live_server, llama,
                                                    make_engine, make_route, monkeypatch):
    monkeypatch.setattr(base, "_rng", random.Random(16))
    proxy = FaultProxy(llama)  # a second engine, to the gateway: its own breaker and slots
    try:
        route = make_route("pool", make_engine(llama, name="big-box"),
                           make_engine(proxy.url, name="small-box"), max_tokens=4)
        log_in(page, "admin")
        page.goto(f"/admin/fallbacks/route/{route.pk}/change/")

        page.select_option("#id_strategy", "weighted")
        page.fill("[name='steps-0-weight']", "3")
        page.fill("[name='steps-1-weight']", "1")
        page.click("[name='_continue']")
        expect(page.locator(".messagelist .success")).to_be_visible()
        screenshot(page, "route-weights")
        saved = Route.objects.get(pk=route.pk)
        assert saved.strategy == "weighted"
        assert [(s.engine.name, s.weight) for s in saved.steps.order_by("position")] == [
            ("big-box", 3), ("small-box", 1)]

        client = ApiClient.objects.create(name="app")
        client.routes.add(saved)
        key = keys.issue(client)[1]
        served = Counter()
        for _ in range(12):
            response = httpx.post(f"{live_server.url}/v1/chat/completions", timeout=120,
                                  headers={"Authorization": f"Bearer {key}"},
                                  json={"model": "pool", "max_tokens": 4,
                                        "messages": [{"role": "user", "content": "Say hi"}]})
            assert response.status_code == 200, response.text
            served[response.headers["X-Dihya-Engine"]] += 1

        assert sum(served.values()) == 12
        assert served["big-box"] > served["small-box"] > 0, served
    finally:
        proxy.close()
