"""`weighted`: the split follows the weights; open engines and standbys are not drawn."""

from __future__ import annotations

from fallbacks import strategies
from tests.strategies.helpers import down, engine, first_picks, request, route


def test_it_splits_three_to_one():
    r = route("weighted", engine(1, "a", weight=3), engine(2, "b", weight=1))

    picks = first_picks(r, 40_000)

    assert abs(picks["a"] / 40_000 - 0.75) < 0.01
    assert abs(picks["b"] / 40_000 - 0.25) < 0.01


def test_a_canary_gets_its_five_percent():
    r = route("weighted", engine(1, "stable", weight=95), engine(2, "canary", weight=5))

    picks = first_picks(r, 40_000)

    assert abs(picks["canary"] / 40_000 - 0.05) < 0.005


def test_an_open_engines_share_goes_to_the_others():
    r = route("weighted", engine(1, "a", weight=2), engine(2, "b", weight=1),
              engine(3, "c", weight=1))

    picks = first_picks(r, 20_000, available=down("a"))

    assert picks["a"] == 0
    assert abs(picks["b"] / 20_000 - 0.5) < 0.02
    plan = strategies.plan(r, request(), available=down("a"))
    assert plan.engines[-1].name == "a"  # still listed last: the runner records the skip
    assert "left out of the draw (breaker open): a" in plan.why


def test_standbys_come_after_every_weighted_engine():
    r = route("weighted", engine(1, "spare", weight=0), engine(2, "a", weight=1),
              engine(3, "b", weight=1))

    for _ in range(50):
        assert strategies.plan(r, request()).engines[-1].name == "spare"
    plan = strategies.plan(r, request(), available=down("a", "b"))
    assert [e.name for e in plan.engines] == ["a", "b", "spare"]  # a, b skipped at no cost


def test_it_says_what_it_drew():
    r = route("weighted", engine(1, "a", weight=3), engine(2, "b", weight=1))

    plan = strategies.plan(r, request())

    assert plan.strategy == "weighted"
    assert plan.why.startswith(f"weighted draw: {plan.engines[0].name} (weight ")
