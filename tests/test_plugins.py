"""The one plug-in registry: a plug-in imported before the built-ins cannot take their name."""

from __future__ import annotations

import sys
import textwrap

import pytest

from dihya.lib.plugins import Refused, Registry


@pytest.fixture
def modules(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    written: list[str] = []

    def write(name: str, source: str) -> None:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        written.append(name)

    yield write
    for name in written:
        sys.modules.pop(name, None)


def test_it_refuses_a_plugin_imported_before_the_builtins(modules, monkeypatch):
    widgets: Registry[type] = Registry("widget", "test.widgets", ("plug_builtin_widget",),
                                       lambda cls: cls)
    monkeypatch.setitem(sys.modules, "plug_registry", type(sys)("plug_registry"))
    sys.modules["plug_registry"].register = widgets.register  # type: ignore[attr-defined]
    modules("plug_builtin_widget", """
        from plug_registry import register

        @register
        class Plain:
            name = "plain"
            label = "Plain"
    """)

    class Early:
        name = "plain"

    with pytest.raises(Refused, match="may not replace built-in 'plain'"):
        widgets.register(Early)  # the registry imported its built-ins first, to know their names
    assert widgets.get("plain").__module__ == "plug_builtin_widget"
    assert widgets.choices() == [("plain", "Plain")]
