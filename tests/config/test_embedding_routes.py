"""An embedding route in a config file: engines that declare `embeddings`, and a dimension
pin that a re-applied file keeps unless it says otherwise."""

from __future__ import annotations

import pytest

from dihya import config
from fallbacks import catalog
from fallbacks.models import Engine, Route

FILE = """
engines:
  - {{name: embed-a, provider: openai, base_url: "http://127.0.0.1:8082/v1",
     model: smollm2-135m-embed, capabilities: [embeddings]}}
  - {{name: embed-b, provider: ollama, base_url: "http://127.0.0.1:11434",
     model: smollm2-135m-embed, capabilities: [chat, embeddings]}}
routes:
  - {{name: embed, engines: [embed-a, embed-b]{pin}}}
"""


def text(pin: str = "") -> str:
    return FILE.format(pin=pin)


def dimension() -> int | None:
    return Route.objects.get(name="embed").embedding_dimension


def test_it_applies_embedding_capabilities_and_the_pin(db):
    config.apply_yaml(text(", embedding_dimension: 576"))

    assert Engine.objects.get(name="embed-a").capabilities == ["embeddings"]
    spec = catalog.route_spec("embed")
    assert spec is not None and spec.embedding_dimension == 576
    assert [e.capabilities for e in spec.engines] == [frozenset({"embeddings"}),
                                                      frozenset({"chat", "embeddings"})]


def test_it_round_trips_through_export(db):
    config.apply_yaml(text(", embedding_dimension: 576"))
    exported = config.export_yaml()

    route = config.load_yaml(exported)["routes"][0]
    assert route["embedding_dimension"] == 576
    assert config.apply_yaml(exported) == []
    assert config.export_yaml() == exported


def test_a_file_without_the_pin_keeps_the_recorded_one(db):
    config.apply_yaml(text())
    assert dimension() is None
    catalog.pin_embedding_dimension(Route.objects.get(name="embed").pk, 576)

    assert config.apply_yaml(text()) == []
    assert dimension() == 576


@pytest.mark.parametrize(("pin", "expected"), [(", embedding_dimension: null", None),
                                               (", embedding_dimension: 1024", 1024)])
def test_a_file_that_names_the_pin_sets_it(db, pin, expected):
    config.apply_yaml(text())
    catalog.pin_embedding_dimension(Route.objects.get(name="embed").pk, 576)

    changes = config.apply_yaml(text(pin))

    assert dimension() == expected
    [change] = changes
    assert (change.kind, change.name) == ("route", "embed")
    assert change.before["embedding_dimension"] == 576
    assert change.after.get("embedding_dimension") == expected
