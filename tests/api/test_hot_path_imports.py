"""A call imports nothing that is not installed.

httpcore asks `import sniffio` on every request to an engine (`current_async_library`) and
falls back to asyncio when it fails; when sniffio was missing that failed import — a search of
every path entry, then an ImportError built and thrown away — was 6 % of a web process's CPU
under load (issue 28). Nothing says so: the call works. So a streamed and a plain call are
made through the live gateway to a real engine over HTTP (respx would skip httpcore) while
every failed import, by `import` or by importlib, is written down; there must be none.
"""

from __future__ import annotations

import builtins
import importlib.abc
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.fake_engine import answer, fake_engine, sse  # noqa: F401 - a fixture

ASK = {"model": "default", "messages": [{"role": "user", "content": "hi"}]}


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}


class Misses(importlib.abc.MetaPathFinder):
    """Last on sys.meta_path: asked only about modules no other finder found."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.lock = threading.Lock()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        with self.lock:
            self.names.append(name)

    def failed(self, name: str) -> None:
        with self.lock:
            self.names.append(name)


@pytest.fixture
def failed_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[Misses]:
    """Every import that fails while the test runs, in any thread of the process."""
    misses = Misses()
    stock = builtins.__import__

    def recording(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return stock(name, *args, **kwargs)
        except ImportError:  # a module marked absent (None in sys.modules) never reaches a finder
            misses.failed(name)
            raise

    monkeypatch.setattr(builtins, "__import__", recording)
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, misses])
    yield misses


@pytest.fixture
def gateway(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake"))
    http = httpx.Client(base_url=api + "/v1", headers={"Authorization": f"Bearer {make_key()}"},
                        timeout=30, trust_env=False)
    yield http
    http.close()


def calls(http: httpx.Client, engine: Any) -> None:
    """One plain and one streamed call, both answered by the engine over HTTP."""
    engine.reply(answer("Hello"))
    assert http.post("/chat/completions", json=ASK).json()["choices"][0]["message"][
        "content"] == "Hello"
    engine.reply(sse(chunk({"role": "assistant", "content": "Hel"}), chunk({"content": "lo"}),
                     chunk({}, "stop")))
    with http.stream("POST", "/chat/completions", json={**ASK, "stream": True}) as streamed:
        text = streamed.read().decode()
    assert '"content":"lo"' in text and text.endswith("data: [DONE]\n\n")


def test_a_call_imports_nothing_that_is_missing(gateway, fake_engine, failed_imports):  # noqa: F811
    calls(gateway, fake_engine)  # the first call may import what a call needs, once
    failed_imports.names.clear()

    calls(gateway, fake_engine)

    assert failed_imports.names == []


def test_a_missing_module_on_the_path_is_seen(gateway, fake_engine, failed_imports,  # noqa: F811
                                              monkeypatch):
    """The check above can fail: without sniffio (as it was), httpcore's import is caught."""
    calls(gateway, fake_engine)
    monkeypatch.setitem(sys.modules, "sniffio", None)  # as if it were not installed
    failed_imports.names.clear()

    calls(gateway, fake_engine)

    assert "sniffio" in failed_imports.names
