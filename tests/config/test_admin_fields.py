"""What the admin can set beyond the basics is in the file too: slots, batch shares and prices
of engines, retry policies of routes, plans of clients — both ways, with defaults when left
out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dihya import config
from dihya.gateway.models import ApiClient
from fallbacks.models import Engine, Route
from quotas.models import Assignment, EnginePrice

FULL = """
engines:
  - {name: local, provider: openai, base_url: "http://127.0.0.1:8081/v1", model: m,
     max_concurrency: 2, batch_share: 1, price: {input: 0.15, output: 0.6}}
  - {name: spare, provider: ollama, base_url: "http://127.0.0.1:11434", model: m}
routes:
  - name: default
    engines: [local, spare]
    retry: {server_retries: 3, backoff: 0.5, max_attempts: 6, deadline: 45,
            first_token_timeout: 5, when_full: wait}
plans:
  - {name: starter, limits: [{requests: 20, per: minute}]}
clients:
  - {name: app, routes: [default], plan: starter}
"""


@pytest.fixture
def applied(db):
    return config.apply_yaml(FULL)


def test_it_sets_every_admin_field(applied):
    local = Engine.objects.get(name="local")
    assert (local.max_concurrency, local.batch_share) == (2, 1)
    price = EnginePrice.objects.get(engine=local)
    assert (price.input_per_million, price.output_per_million) == (Decimal("0.15"),
                                                                   Decimal("0.6"))
    route = Route.objects.get(name="default")
    assert (route.server_retries, route.retry_backoff, route.max_attempts, route.deadline,
            route.first_token_timeout, route.when_full) == (3, 0.5, 6, 45, 5, "wait")
    assert Assignment.objects.get(client__name="app").plan.name == "starter"


def test_it_round_trips_through_export(applied):
    exported = config.export_yaml()

    assert config.apply_yaml(exported) == []
    assert config.export_yaml() == exported
    document = config.load_yaml(exported)
    assert document["routes"][0]["retry"]["when_full"] == "wait"
    assert document["clients"][0]["plan"] == "starter"
    assert document["engines"][0]["price"] == {"input": 0.15, "output": 0.6}


def test_it_puts_back_defaults_when_fields_are_left_out(applied):
    config.apply_yaml("""
engines:
  - {name: local, provider: openai, base_url: "http://127.0.0.1:8081/v1", model: m}
routes:
  - {name: default, engines: [local, spare]}
clients:
  - {name: app, routes: [default]}
""")

    local = Engine.objects.get(name="local")
    assert local.max_concurrency is None and local.batch_share is None
    assert not EnginePrice.objects.filter(engine=local).exists()
    route = Route.objects.get(name="default")
    assert (route.server_retries, route.retry_backoff, route.max_attempts, route.deadline,
            route.first_token_timeout, route.when_full) == (1, 0.2, 4, None, None, "next")
    assert not Assignment.objects.filter(client__name="app").exists()


def test_it_exports_the_default_retry_policy(db):
    config.apply_yaml("routes: [{name: bare}]")

    (route,) = config.export()["routes"]

    assert route["retry"] == {"server_retries": 1, "backoff": 0.2, "max_attempts": 4,
                              "when_full": "next"}


def test_it_accepts_a_plan_that_is_only_in_the_database(applied):
    config.apply_yaml("clients: [{name: other, plan: starter}]")

    assert Assignment.objects.get(client=ApiClient.objects.get(name="other")).plan.name == \
        "starter"


def test_it_moves_a_client_to_another_plan(applied):
    config.apply_yaml(FULL.replace("plan: starter", "plan: pro").replace(
        "plans:\n", "plans:\n  - {name: pro}\n"))

    assert Assignment.objects.get(client__name="app").plan.name == "pro"
    assert Assignment.objects.count() == 1


@pytest.mark.parametrize(("change", "expected"), [
    ("plan: starter", "clients[0].plan: unknown plan 'gold'"),
    ("max_concurrency: 2", "engines[0].max_concurrency: Input should be greater than or "
                           "equal to 1"),
    ("input: 0.15", "engines[0].price.input: at most 4 decimal places"),
    ("when_full: wait", "routes[0].retry.when_full: Input should be 'next' or 'wait'"),
    ("backoff: 0.5", "routes[0].retry.backoff: Input should be greater than or equal to 0"),
    ("server_retries: 3", "routes[0].retry.retries: unknown key"),
])
def test_it_names_the_bad_field(db, change, expected):
    bad = {"plan: starter": "plan: gold", "max_concurrency: 2": "max_concurrency: 0",
           "input: 0.15": "input: 0.12345", "when_full: wait": "when_full: queue",
           "backoff: 0.5": "backoff: -1", "server_retries: 3": "retries: 3"}[change]

    with pytest.raises(config.ConfigError) as raised:
        config.apply_yaml(FULL.replace(change, bad))

    assert expected in raised.value.problems
    assert not Engine.objects.exists()


def test_it_will_not_prune_a_plan_a_kept_client_has(applied):
    with pytest.raises(config.ConfigError) as raised:
        config.apply_yaml("plans: []", prune=True)

    assert raised.value.problems == [
        "plans: cannot prune plan 'starter': client 'app', which is not in the file, has it"]


ROUTING = """
engines:
  - {name: big, provider: openai, base_url: "http://127.0.0.1:8081/v1", model: m,
     context_window: 8192}
  - {name: small, provider: openai, base_url: "http://127.0.0.1:8082/v1", model: m}
  - {name: spare, provider: ollama, base_url: "http://127.0.0.1:11434", model: m}
routes:
  - name: spread
    strategy: weighted
    context_fit: true
    sticky: true
    engines: [{name: big, weight: 3}, small, {name: spare, weight: 0}]
"""


def test_it_sets_strategy_weights_and_filters_both_ways(db):
    config.apply_yaml(ROUTING)

    route = Route.objects.get(name="spread")
    assert (route.strategy, route.context_fit, route.sticky) == ("weighted", True, True)
    assert [(s.engine.name, s.weight) for s in route.steps.order_by("position")] == [
        ("big", 3), ("small", 1), ("spare", 0)]
    assert Engine.objects.get(name="big").context_window == 8192
    exported = config.export_yaml()
    (spread,) = config.load_yaml(exported)["routes"]
    assert spread["engines"] == [{"name": "big", "weight": 3}, "small",
                                 {"name": "spare", "weight": 0}]
    assert (spread["strategy"], spread["context_fit"], spread["sticky"]) == (
        "weighted", True, True)
    assert config.apply_yaml(exported) == []
    assert config.export_yaml() == exported


def test_names_alone_mean_weight_one_and_export_stays_as_it_was(db):
    config.apply_yaml(ROUTING)
    config.apply_yaml(ROUTING.split("routes:")[0]
                      + "routes:\n  - {name: spread, engines: [big, small]}\n")

    assert set(Route.objects.get(name="spread").steps.values_list("weight", flat=True)) == {1}
    (spread,) = config.export()["routes"]
    assert spread["engines"] == ["big", "small"]
    assert "context_fit" not in spread and "sticky" not in spread
