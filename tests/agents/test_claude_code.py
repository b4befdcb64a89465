"""Anthropic's Claude Code, unchanged, does a task through Dihya's Messages API.

`claude -p` is pointed at Dihya by ANTHROPIC_BASE_URL with a Dihya key as ANTHROPIC_API_KEY,
and asks for its default model, `claude-opus-5-5`, which reaches the route by the route's
alias `claude-*`, as an operator would set it up. Its requests are what it sends to
Anthropic: beta headers, `?beta=true`, system blocks with cache_control, a `system` message
among the messages, adaptive thinking, context_management, 128000 max_tokens. The route's
engine is scripted to call one of Claude Code's tools, then to answer; the file the tool
leaves in the work directory proves the call crossed Dihya intact (chat completions from the
engine, Anthropic content blocks to Claude Code), and the tool's result came back to the
engine as a tool message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agents.conftest import agent, run, served_turns, told

ROUTE = "coding"  # reached by the alias `claude-*`
TASK = "Create a file done.txt in the current directory containing the word hi."
ANSWER = "done.txt now holds hi."


def claude(api: str, key: str, workdir: Path, home: Path, *tools: str):
    """`claude -p` on the task, allowed only `tools` (root may not skip permissions)."""
    home.mkdir()
    return run([str(agent("claude")), "-p", TASK, "--output-format", "json",
                "--allowedTools", *tools],
               cwd=workdir, env={"HOME": str(home), "ANTHROPIC_BASE_URL": api,
                                 "ANTHROPIC_API_KEY": key,
                                 "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                                 "DISABLE_AUTOUPDATER": "1"})


@pytest.fixture
def route(scripted_engine, make_engine, make_route) -> str:
    coding = make_route(ROUTE, make_engine(scripted_engine.url, name="scripted"))
    coding.aliases = ["claude-*"]
    coding.save()
    return ROUTE


def result(done) -> dict:
    try:
        return json.loads(done.stdout)
    except ValueError:
        return {}


def test_it_runs_the_bash_command_the_model_calls(api, scripted_engine, route, make_key,
                                                   workdir, tmp_path):
    scripted_engine.play("Bash", {"command": "echo hi > done.txt",
                                  "description": "Write hi to done.txt"}, ANSWER)

    done = claude(api, make_key(routes=[route]), workdir, tmp_path / "home", "Bash")

    created = workdir / "done.txt"
    assert created.exists() and created.read_text() == "hi\n", told(done)
    answered = result(done)
    assert done.returncode == 0 and answered.get("result") == ANSWER, told(done)
    assert answered["is_error"] is False and answered["num_turns"] == 2
    assert served_turns(route) == [("succeeded", "scripted", "tool_calls"),
                                   ("succeeded", "scripted", "stop")]
    sent = scripted_engine.requests[1]["messages"][-1]
    assert sent["role"] == "tool" and sent["tool_call_id"] == "call_agent1"


def test_it_writes_the_file_the_model_calls_write_for(api, scripted_engine, route, make_key,
                                                      workdir, tmp_path):
    scripted_engine.play("Write", {"file_path": str(workdir / "done.txt"), "content": "hi\n"},
                         ANSWER)

    done = claude(api, make_key(routes=[route]), workdir, tmp_path / "home", "Write")

    created = workdir / "done.txt"
    assert created.exists() and created.read_text() == "hi\n", told(done)
    assert done.returncode == 0 and result(done).get("result") == ANSWER, told(done)
    assert served_turns(route) == [("succeeded", "scripted", "tool_calls"),
                                   ("succeeded", "scripted", "stop")]
