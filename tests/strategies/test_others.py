"""`ordered`, `least_busy`, `lowest_latency`, `cheapest`, and `context_fit` / `sticky`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from fallbacks import strategies
from fallbacks.strategies.base import FIRST_TOKEN, PER_TOKEN
from tests.strategies.helpers import down, engine, first_picks, request, route

A, B, C = engine(1, "a"), engine(2, "b"), engine(3, "c")


@dataclass
class Avg:
    value: float
    samples: int = 10


def names(plan: strategies.Plan) -> list[str]:
    return [e.name for e in plan.engines]


def test_ordered_keeps_the_admins_order():
    assert names(strategies.plan(route("ordered", B, A, C), request())) == ["b", "a", "c"]


def test_an_unknown_strategy_falls_back_to_ordered():
    plan = strategies.plan(route("gone-plugin", B, A), request())

    assert (plan.strategy, names(plan)) == ("ordered", ["b", "a"])


def test_least_busy_puts_the_idle_engine_first_ties_by_order():
    busy = {1: 3, 2: 0, 3: 0}

    plan = strategies.plan(route("least_busy", A, B, C), request(), in_flight=busy.__getitem__)

    assert names(plan) == ["b", "c", "a"]
    assert "b 0 in flight" in plan.why
    down_b = strategies.plan(route("least_busy", A, B, C), request(),
                             in_flight=busy.__getitem__, available=down("b"))
    assert names(down_b) == ["c", "a", "b"]


def test_lowest_latency_ranks_streams_by_first_token_and_others_per_token(settings):
    settings.DIHYA_LATENCY_EXPLORE = 0.0
    averages = {(1, FIRST_TOKEN): Avg(300), (2, FIRST_TOKEN): Avg(100),
                (1, PER_TOKEN): Avg(5), (2, PER_TOKEN): Avg(20)}

    def latency(engine_id, kind):
        return averages.get((engine_id, kind))

    r = route("lowest_latency", A, B)
    assert names(strategies.plan(r, request(), stream=True, latency=latency)) == ["b", "a"]
    assert names(strategies.plan(r, request(), latency=latency)) == ["a", "b"]
    # An engine never measured goes first, so that it gets measured.
    r3 = route("lowest_latency", A, B, C)
    assert names(strategies.plan(r3, request(), latency=latency))[0] == "c"


def test_lowest_latency_explores_a_small_share(settings):
    settings.DIHYA_LATENCY_EXPLORE = 0.1
    averages = {(1, PER_TOKEN): Avg(5), (2, PER_TOKEN): Avg(50)}

    picks = first_picks(route("lowest_latency", A, B), 10_000,
                        latency=lambda i, k: averages.get((i, k)))

    assert 0.03 < picks["b"] / 10_000 < 0.07  # half the exploring draws land on a anyway


def test_cheapest_by_expected_tokens_then_order():
    paid = engine(1, "mistral", price_in=2.0, price_out=6.0)
    cheap = engine(2, "small-api", price_in=0.1, price_out=0.3)
    free = engine(3, "local")
    free2 = engine(4, "local2")

    plan = strategies.plan(route("cheapest", paid, cheap, free, free2), request())

    assert names(plan) == ["local", "local2", "small-api", "mistral"]


def test_cheapest_weighs_prompt_and_answer_prices():
    reads = engine(1, "reads", price_in=1.0, price_out=10.0)
    writes = engine(2, "writes", price_in=10.0, price_out=1.0)
    long_prompt = request("x" * 40_000, max_tokens=10)

    assert names(strategies.plan(route("cheapest", writes, reads), long_prompt))[0] == "reads"
    assert names(strategies.plan(route("cheapest", reads, writes),
                                 request("hi", max_tokens=1000)))[0] == "writes"


def test_context_fit_skips_engines_too_small_for_the_request():
    small = engine(1, "small", context_window=512)
    big = engine(2, "big", context_window=8192)
    unknown = engine(3, "unknown")
    long_prompt = request("word " * 800, max_tokens=64)  # ~1000 + 64 tokens

    plan = strategies.plan(route("ordered", small, big, unknown, context_fit=True), long_prompt)

    assert names(plan) == ["small", "big", "unknown"]
    assert plan.skipped == {1: "context_too_long"}
    assert "do not fit: small" in plan.why
    off = strategies.plan(route("ordered", small, big), long_prompt)
    assert off.skipped == {}
    short = strategies.plan(route("ordered", small, big, context_fit=True), request())
    assert short.skipped == {}


def test_context_fit_takes_skipped_engines_out_of_a_weighted_draw():
    small = engine(1, "small", context_window=100, weight=100)
    big = engine(2, "big", weight=1)
    r = route("weighted", small, big, context_fit=True)

    plan = strategies.plan(r, request("word " * 200))

    assert names(plan) == ["small", "big"] and plan.skipped == {1: "context_too_long"}


def test_sticky_sends_a_user_to_the_same_engine_while_it_is_healthy():
    r = route("weighted", engine(1, "a", weight=1), engine(2, "b", weight=1),
              engine(3, "c", weight=1), sticky=True)
    users = [f"user-{i}" for i in range(300)]

    home = {u: strategies.plan(r, request(), user=u).engines[0].name for u in users}

    assert all(strategies.plan(r, request(), user=u).engines[0].name == home[u]
               for u in users[:50])
    assert all(share > 60 for share in Counter(home.values()).values())  # spread over all
    moved = {u: strategies.plan(r, request(), user=u, available=down("a")).engines[0].name
             for u in users}
    assert all(moved[u] == home[u] for u in users if home[u] != "a")  # only a's users move
    assert all(moved[u] != "a" for u in users)
    plan = strategies.plan(r, request(), user="user-1")
    assert plan.why.startswith(f"sticky for this user: {home['user-1']}")


def test_sticky_without_a_user_leaves_the_strategy_alone():
    r = route("ordered", A, B, sticky=True)

    assert names(strategies.plan(r, request(), user="")) == ["a", "b"]
