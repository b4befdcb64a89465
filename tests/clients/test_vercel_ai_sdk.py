"""The Vercel AI SDK, unchanged, through Dihya: the provider's default model and `.chat`.

`createOpenAI({ baseURL, apiKey })` from `@ai-sdk/openai` (tests/clients/package.json, installed
by `make test`) is pointed at Dihya; `openai(model)`, the provider's default, calls the
Responses API, `openai.chat(model)` chat completions. Each makes a plain `generateText`, a
`streamText` read as it comes, and a `generateText` with a tool the SDK runs itself between
two steps, against the scripted engine (tests/agents/scripted_engine.py): it answers text when
offered no tools, calls the tool, then answers once the tool's result is back. Node runs
tests/clients/vercel.mjs, which prints what the SDK returned as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dihya.gateway.models import Generation, StoredResponse
from tests.conftest import recorded

HERE = Path(__file__).parent
SCRIPT = HERE / "vercel.mjs"
ROUTE = "assistant"
ANSWER = "Tunis is in Tunisia."
APIS = ["responses", "chat"]  # openai(model), openai.chat(model)


def vercel(api: str, key: str, which: str, mode: str, tmp_path: Path) -> dict[str, Any]:
    """What the SDK returned for one call (vercel.mjs's JSON), failing with what it printed."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "@ai-sdk" / "openai").exists():
        pytest.skip("the Vercel AI SDK is not installed: `make test` installs it "
                    "(npm ci in tests/clients)")
    done = subprocess.run([node, str(SCRIPT), f"{api}/v1", ROUTE, which, mode],
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                               "HOME": str(tmp_path), "DIHYA_KEY": key},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    told = f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert done.returncode == 0, told
    return json.loads(done.stdout.splitlines()[-1])


def served() -> list[tuple[str, str, str, bool, bool]]:
    """Status, engine, finish reason and streaming of the route's generations, oldest first,
    and whether each answer was stored: the Responses API stores what it answers unless the
    request says `store: false` (the SDK leaves `store` out), chat completions never do."""
    recorded()
    return [(g.status, g.engine_name, g.finish_reason, g.stream,
             StoredResponse.objects.filter(generation=g).exists())
            for g in Generation.objects.filter(route_name=ROUTE).order_by("created")]


@pytest.fixture
def key(scripted_engine, make_engine, make_route, make_key) -> str:
    make_route(ROUTE, make_engine(scripted_engine.url, name="scripted"))
    scripted_engine.play("lookup_city", {"city": "Tunis"}, ANSWER)
    return make_key(routes=[ROUTE])


@pytest.mark.parametrize("which", APIS)
def test_it_generates_text(api, key, tmp_path, which):
    result = vercel(api, key, which, "generate", tmp_path)

    assert (result["text"], result["finishReason"]) == (ANSWER, "stop"), result
    assert (result["usage"]["inputTokens"], result["usage"]["outputTokens"]) == (40, 8)
    assert served() == [("succeeded", "scripted", "stop", False, which == "responses")]


@pytest.mark.parametrize("which", APIS)
def test_it_streams_text(api, key, tmp_path, which):
    result = vercel(api, key, which, "stream", tmp_path)

    assert "".join(result["parts"]) == result["text"] == ANSWER, result
    assert result["finishReason"] == "stop"
    assert served() == [("succeeded", "scripted", "stop", True, which == "responses")]


@pytest.mark.parametrize("which", APIS)
def test_it_runs_the_tool_the_model_calls_then_answers(api, key, scripted_engine, tmp_path,
                                                        which):
    result = vercel(api, key, which, "tools", tmp_path)

    called, answered = result["steps"]
    assert called["finishReason"] == "tool-calls", result
    assert [(c["name"], c["input"]) for c in called["toolCalls"]] == [
        ("lookup_city", {"city": "Tunis"})]
    assert [r["output"] for r in called["toolResults"]] == [
        {"city": "Tunis", "country": "Tunisia"}]
    assert (answered["text"], answered["finishReason"]) == (ANSWER, "stop")
    assert result["text"] == ANSWER
    stored = which == "responses"
    assert served() == [("succeeded", "scripted", "tool_calls", False, stored),
                        ("succeeded", "scripted", "stop", False, stored)]
    back = scripted_engine.requests[1]["messages"][-1]
    assert back["role"] == "tool" and back["tool_call_id"] == "call_agent1"
    assert json.loads(back["content"]) == {"city": "Tunis", "country": "Tunisia"}
