"""OpenAI's Codex CLI, unchanged, does a task through Dihya's Responses API.

Codex is pointed at Dihya as a custom provider (`wire_api = "responses"`) and given a task
that needs one tool call; the route's engine is scripted to make that call, then to answer.
Codex runs the tool itself, in its work directory: the file it leaves there is the proof that
the call crossed Dihya intact (chat completions from the engine, Responses items to Codex),
and the tool's output came back to the engine as a tool message. The model is a name from
Codex's own catalog, so that it sends what it sends to OpenAI: a freeform `apply_patch`,
`tool_search`, `web_search`, reasoning, `include`, `store: false`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.agents.conftest import agent, run, served_turns, told

MODEL = "gpt-5.5"  # in Codex's catalog (`codex debug models`)
# A name Codex does not know: it falls back to other tools, among them a `namespace` of
# multi-agent functions, and asks a reasoning summary instead of an effort.
UNKNOWN_MODEL = "dihya-coder"
TASK = "Create a file done.txt in the current directory containing the word hi."
ANSWER = "done.txt now holds hi."


def codex(api: str, key: str, workdir: Path, home: Path, model: str = MODEL):
    """`codex exec` on the task, non-interactive: no approvals, no sandbox, no git needed."""
    home.mkdir()
    (home / "config.toml").write_text(
        f'model = "{model}"\nmodel_provider = "dihya"\n\n[model_providers.dihya]\n'
        f'name = "Dihya"\nbase_url = "{api}/v1"\nenv_key = "DIHYA_KEY"\n'
        'wire_api = "responses"\n')
    last = home / "last-message.txt"
    done = run([str(agent("codex")), "exec", "--skip-git-repo-check", "--ephemeral",
                "--dangerously-bypass-approvals-and-sandbox", "--color", "never",
                "--output-last-message", str(last), TASK],
               cwd=workdir, env={"HOME": str(home), "CODEX_HOME": str(home), "DIHYA_KEY": key})
    return done, (last.read_text().strip() if last.exists() else "")


@pytest.mark.parametrize("model", [MODEL, UNKNOWN_MODEL])
def test_it_runs_the_shell_command_the_model_calls(api, scripted_engine, make_engine,
                                                    make_route, make_key, workdir, tmp_path,
                                                    model):
    make_route(model, make_engine(scripted_engine.url, name="scripted"))
    scripted_engine.play("exec_command", {"cmd": "echo hi > done.txt"}, ANSWER)

    done, last = codex(api, make_key(routes=[model]), workdir, tmp_path / "codex-home", model)

    created = workdir / "done.txt"
    assert created.exists() and created.read_text() == "hi\n", told(done)
    assert done.returncode == 0 and last == ANSWER, told(done)
    assert served_turns(model) == [("succeeded", "scripted", "tool_calls"),
                                   ("succeeded", "scripted", "stop")]
    result = scripted_engine.requests[1]["messages"][-1]
    assert result["role"] == "tool" and result["tool_call_id"] == "call_agent1"
    assert "Process exited with code 0" in json.dumps(result["content"])


def test_it_applies_the_patch_the_model_writes(api, scripted_engine, make_engine, make_route,
                                               make_key, workdir, tmp_path):
    make_route(MODEL, make_engine(scripted_engine.url, name="scripted"))
    # Dihya hands a freeform tool to the engine as a function of one string, `input`.
    patch = "*** Begin Patch\n*** Add File: done.txt\n+hi\n*** End Patch\n"
    scripted_engine.play("apply_patch", {"input": patch}, ANSWER)

    done, last = codex(api, make_key(routes=[MODEL]), workdir, tmp_path / "codex-home")

    created = workdir / "done.txt"
    assert created.exists() and created.read_text() == "hi\n", told(done)
    assert done.returncode == 0 and last == ANSWER, told(done)
    assert served_turns(MODEL) == [("succeeded", "scripted", "tool_calls"),
                                   ("succeeded", "scripted", "stop")]
    result = scripted_engine.requests[1]["messages"][-1]
    assert result["role"] == "tool" and "A done.txt" in json.dumps(result["content"])
