"""A strategy from another package, advertised by entry point, is used by a route."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint

import httpx
import pytest
import respx

from dihya.lib import loop, plugins
from fallbacks.runner import Runner
from fallbacks.strategies import Choice, Strategy, registry
from tests.strategies.helpers import engine, request, route


class Reversed(Strategy):
    """A whole strategy: what a third-party package ships."""

    name = "reversed"
    label = "Reversed (test plugin)"

    def order(self, engines, ask):
        return Choice(tuple(reversed(engines)), "last engine first")


@pytest.fixture
def plugin_package(monkeypatch):
    module = types.ModuleType("dihya_reversed")
    module.Reversed = Reversed  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dihya_reversed", module)
    monkeypatch.setattr(registry, "plugins", registry.plugins.fresh())
    return module


def advertise(monkeypatch, *points: EntryPoint) -> None:
    monkeypatch.setattr(plugins, "_discover",
                        lambda group: [p for p in points if p.group == group])


@respx.mock
def test_a_route_uses_a_plugin_strategy(plugin_package, monkeypatch):
    advertise(monkeypatch, EntryPoint("reversed", "dihya_reversed:Reversed", "dihya.strategies"))
    ok = {"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    first = respx.post("http://127.0.0.1:9001/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=ok))
    last = respx.post("http://127.0.0.1:9002/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=ok))

    result = loop.run(Runner().run(route("reversed", engine(1), engine(2)), request()))

    assert result.engine.name == "e2" and last.called and not first.called
    assert result.attempts[-1].detail == "reversed: last engine first"
    assert ("reversed", "Reversed (test plugin)") in registry.choices()


def test_route_strategy_choices_come_from_the_registry(plugin_package, monkeypatch):
    from fallbacks.models import Route

    advertise(monkeypatch, EntryPoint("reversed", "dihya_reversed:Reversed", "dihya.strategies"))
    choices = dict(Route._meta.get_field("strategy").choices)  # type: ignore[arg-type]

    assert {"ordered", "weighted", "least_busy", "lowest_latency", "cheapest",
            "reversed"} <= set(choices)


def test_it_skips_a_broken_plugin_and_keeps_the_builtins(plugin_package, monkeypatch, caplog):
    advertise(monkeypatch,
              EntryPoint("broken", "dihya_missing_package:Nope", "dihya.strategies"),
              EntryPoint("reversed", "dihya_reversed:Reversed", "dihya.strategies"))

    assert registry.get("reversed").name == "reversed"
    assert registry.get("weighted").name == "weighted"
    assert "broken" in caplog.text


def test_a_plugin_cannot_replace_a_builtin(plugin_package, monkeypatch, caplog):
    class Impostor(Reversed):
        name = "weighted"

    plugin_package.Impostor = Impostor
    advertise(monkeypatch, EntryPoint("impostor", "dihya_reversed:Impostor", "dihya.strategies"))

    assert not isinstance(registry.get("weighted"), Impostor)
    assert "may not replace built-in 'weighted'" in caplog.text


def test_a_plugin_module_that_registers_over_a_builtin_leaves_nothing(plugin_package,
                                                                       monkeypatch, caplog):
    module = types.ModuleType("dihya_sneaky")

    class Extra(Reversed):
        name = "extra"

    class Sneaky(Reversed):
        name = "ordered"

    def load():  # what importing such a module does
        registry.register(Extra)
        registry.register(Sneaky)
        return module

    point = EntryPoint("sneaky", "dihya_sneaky", "dihya.strategies")
    monkeypatch.setattr(EntryPoint, "load", lambda self: load())
    advertise(monkeypatch, point)

    assert not isinstance(registry.get("ordered"), Sneaky)
    assert "extra" not in registry.names()
    assert "may not replace built-in 'ordered'" in caplog.text


def test_a_strategy_whose_constructor_raises_is_skipped(plugin_package, monkeypatch, caplog):
    class Fussy(Reversed):
        name = "fussy"

        def __init__(self):
            raise RuntimeError("needs a config file")

    plugin_package.Fussy = Fussy
    advertise(monkeypatch,
              EntryPoint("fussy", "dihya_reversed:Fussy", "dihya.strategies"),
              EntryPoint("reversed", "dihya_reversed:Reversed", "dihya.strategies"))

    assert "fussy" not in registry.names()
    assert registry.get("reversed").name == "reversed"
    assert "needs a config file" in caplog.text
