"""Adding a provider is one module and one registration; plugins come by entry point."""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import AsyncIterator
from dataclasses import replace
from importlib.metadata import EntryPoint

import pytest

from dihya.lib import plugins
from fallbacks.providers import registry
from fallbacks.providers.base import Provider
from fallbacks.providers.openai_compat import OpenAICompatible
from fallbacks.spec import ChatRequest, Completion, Delta, Usage
from tests.providers.fakes import REQUEST, engine, run


class Echo(Provider):
    """A whole provider: what a third-party package ships."""

    name = "echo"
    label = "Echo (test plugin)"

    async def complete(self, request: ChatRequest) -> Completion:
        return Completion(request.messages[-1].content, "stop", Usage(1, 1), self.engine.name)

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        yield Delta(request.messages[-1].content, "stop", Usage(1, 1))

    async def probe(self) -> None:
        return None


@pytest.fixture
def plugin_package(monkeypatch):
    """An importable `dihya_echo` package and a fresh registry that will scan entry points."""
    module = types.ModuleType("dihya_echo")
    module.Echo = Echo  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dihya_echo", module)
    monkeypatch.setattr(registry, "plugins", registry.plugins.fresh())
    return module


def advertise(monkeypatch, *points: EntryPoint) -> list[str]:
    asked: list[str] = []

    def fake_entry_points(*, group: str):
        asked.append(group)
        return [p for p in points if p.group == group]

    monkeypatch.setattr(plugins, "_discover", lambda group: fake_entry_points(group=group))
    return asked


def test_it_registers_a_provider_advertised_by_entry_point(plugin_package, monkeypatch):
    asked = advertise(monkeypatch,
                      EntryPoint("echo", "dihya_echo:Echo", "dihya.providers"),
                      EntryPoint("other", "dihya_echo:Echo", "someone.else"))
    assert registry.get("echo") is Echo
    assert asked == ["dihya.providers"]
    assert ("echo", "Echo (test plugin)") in registry.choices()
    assert {"openai", "ollama", "mistral", "echo"} <= set(registry.names())
    spec = replace(engine("openai"), provider="echo")
    provider = registry.get("echo")(spec, client=None)  # type: ignore[arg-type]
    assert run(provider.complete(REQUEST)).text == "Say hello"


def test_it_skips_a_broken_plugin_and_keeps_the_builtins(plugin_package, monkeypatch, caplog):
    advertise(monkeypatch,
              EntryPoint("broken", "dihya_missing_package:Nope", "dihya.providers"),
              EntryPoint("echo", "dihya_echo:Echo", "dihya.providers"))
    assert registry.get("echo") is Echo
    assert registry.get("openai").name == "openai"
    assert "broken" in caplog.text


def test_it_does_not_let_a_plugin_replace_a_builtin(plugin_package, monkeypatch):
    class Impostor(Echo):
        name = "openai"

    plugin_package.Impostor = Impostor
    advertise(monkeypatch, EntryPoint("impostor", "dihya_echo:Impostor", "dihya.providers"))
    assert registry.get("openai") is OpenAICompatible


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """Write real plug-in modules that `EntryPoint.load` imports from disk."""
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


def test_a_plugin_module_that_registers_openai_does_not_replace_the_builtin(
        plugin_package, plugin_dir, monkeypatch, caplog):
    plugin_dir("dihya_sneaky_provider", """
        from fallbacks.providers.openai_compat import OpenAICompatible
        from fallbacks.providers.registry import register

        @register
        class Extra(OpenAICompatible):
            name = "extra"

        @register
        class Sneaky(OpenAICompatible):
            name = "openai"
    """)
    advertise(monkeypatch, EntryPoint("sneaky", "dihya_sneaky_provider", "dihya.providers"))

    assert registry.get("openai") is OpenAICompatible
    assert "extra" not in registry.names()  # nothing of a refused plug-in is kept
    assert "may not replace built-in 'openai'" in caplog.text


def test_a_plugin_that_raises_after_registering_leaves_nothing(plugin_package, plugin_dir,
                                                                 monkeypatch, caplog):
    plugin_dir("dihya_half_provider", """
        from fallbacks.providers.openai_compat import OpenAICompatible
        from fallbacks.providers.registry import register

        @register
        class Half(OpenAICompatible):
            name = "half"

        raise RuntimeError("missing configuration")
    """)
    advertise(monkeypatch,
              EntryPoint("half", "dihya_half_provider", "dihya.providers"),
              EntryPoint("echo", "dihya_echo:Echo", "dihya.providers"))

    assert "half" not in registry.names()
    assert registry.get("echo") is Echo
    assert "missing configuration" in caplog.text


def test_a_second_plugin_claiming_a_taken_name_is_skipped(plugin_package, monkeypatch, caplog):
    class Parrot(Echo):
        label = "Parrot"

    plugin_package.Parrot = Parrot
    advertise(monkeypatch,
              EntryPoint("echo", "dihya_echo:Echo", "dihya.providers"),
              EntryPoint("parrot", "dihya_echo:Parrot", "dihya.providers"))

    assert registry.get("echo") is Echo
    assert "already taken" in caplog.text


def test_an_impostor_registered_outside_any_entry_point_is_refused(plugin_package):
    class Impostor(Echo):
        name = "ollama"

    with pytest.raises(plugins.Refused, match="may not replace built-in 'ollama'"):
        registry.register(Impostor)
    assert registry.get("ollama") is not Impostor


def test_it_names_the_known_providers_when_one_is_unknown():
    with pytest.raises(LookupError, match=r"known: .*mistral.*ollama.*openai"):
        registry.get("no-such-provider")


def test_a_new_builtin_is_one_module_and_one_registration(monkeypatch):
    # One module, one decorator: that's all the registry needs to serve it.
    monkeypatch.setattr(registry, "plugins", registry.plugins.fresh())

    @registry.register
    class Twin(Echo):
        name = "twin"
        label = "Twin"

    assert registry.get("twin") is Twin
    assert "twin" in registry.names()
