"""Route aliases in the configuration file: applied, exported back as written, and refused
with the field's path when they would make a name reach two routes."""

from __future__ import annotations

import pytest

from dihya import config
from fallbacks import catalog
from fallbacks.models import Route

ENGINES = "engines:\n  - {name: e, provider: openai, base_url: 'http://127.0.0.1:8081/v1', " \
          "model: m}\n"


def routes(*lines: str) -> str:
    return ENGINES + "routes:\n" + "".join(f"  - {line}\n" for line in lines)


def test_aliases_round_trip_and_reach_their_route(db):
    changes = config.apply_yaml(routes(
        "{name: default, engines: [e], aliases: ['claude-*', gpt-4.1]}",
        "{name: coder, engines: [e], aliases: ['gpt-5*']}"))

    assert {c.name for c in changes if c.kind == "route"} == {"default", "coder"}
    exported = {r["name"]: r for r in config.export()["routes"]}
    assert exported["default"]["aliases"] == ["claude-*", "gpt-4.1"]
    assert exported["coder"]["aliases"] == ["gpt-5*"]
    assert catalog.route_spec("gpt-5-codex").name == "coder"
    assert catalog.route_spec("claude-opus-4-1").name == "default"
    assert config.apply_yaml(config.export_yaml()) == []  # the export applies as it is


def test_a_route_without_aliases_exports_none_and_removing_them_applies(db):
    config.apply_yaml(routes("{name: default, engines: [e], aliases: ['claude-*']}"))

    config.apply_yaml(routes("{name: default, engines: [e]}"))

    assert Route.objects.get().aliases == []
    assert "aliases" not in config.export()["routes"][0]
    assert catalog.route_spec("claude-x") is None


def test_an_alias_can_move_between_routes_in_one_file(db):
    config.apply_yaml(routes("{name: a, engines: [e], aliases: ['claude-*']}",
                             "{name: b, engines: [e]}"))

    config.apply_yaml(routes("{name: a, engines: [e]}",
                             "{name: b, engines: [e], aliases: ['claude-*']}"))

    assert catalog.route_spec("claude-x").name == "b"


@pytest.mark.parametrize(("text", "problem"), [
    (routes("{name: a, engines: [e], aliases: claude}"),
     "routes[0].aliases: Input should be a valid list"),
    (routes("{name: a, engines: [e], aliases: ['gpt-?']}"),
     "routes[0].aliases[0]: an alias is a model name"),
    (routes("{name: a, engines: [e], aliases: [x, x]}"),
     "routes[0].aliases[1]: 'x' is listed twice"),
    (routes("{name: a, engines: [e], aliases: [b]}", "{name: b, engines: [e]}"),
     "routes[0].aliases[0]: 'b' is the name of a route"),
    (routes("{name: a, engines: [e], aliases: [gpt-4o]}",
            "{name: b, engines: [e], aliases: ['claude-*', gpt-4o]}"),
     "routes[1].aliases[1]: 'gpt-4o' is already an alias of route 'a'"),
    (routes("{name: a, engines: [e], aliases: [kept-alias]}"),
     "routes[0].aliases[0]: 'kept-alias' is already an alias of route 'kept'"),
    (routes("{name: kept-alias, engines: [e]}"),
     "routes[0].name: the route's name 'kept-alias' is an alias of route 'kept'"),
])
def test_it_names_the_bad_alias_and_changes_nothing(db, text, problem):
    config.apply_yaml(routes("{name: kept, engines: [e], aliases: [kept-alias]}"))
    before = config.export()

    with pytest.raises(config.ConfigError) as caught:
        config.apply_yaml(text)

    assert any(line.startswith(problem) for line in caught.value.problems), \
        caught.value.problems
    assert config.export() == before
