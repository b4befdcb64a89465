"""What Codex CLI sends, replayed: its requests as captured from `codex exec` 0.171 (texts cut
short, shapes untouched: tests/api/data/codex_requests.json), read back the way Codex reads
the stream (the `type` of each `data:` JSON; it acts on `response.output_item.done` and needs
`response.completed`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.fake_engine import call, call_stream, fake_engine, text_stream  # noqa: F401

CAPTURED = json.loads((Path(__file__).parent / "data" / "codex_requests.json").read_text())
PATCH = "*** Begin Patch\n*** Add File: done.txt\n+hi\n*** End Patch\n"


@pytest.fixture
def post(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake"))
    key = make_key()

    def send(body: dict[str, Any]) -> tuple[httpx.Response, list[dict[str, Any]]]:
        body = {**body, "model": "default"}
        with httpx.stream("POST", api + "/v1/responses", json=body, timeout=30, headers={
                "Authorization": f"Bearer {key}", "Accept": "text/event-stream"}) as answer:
            answer.read()
        events = [json.loads(line[len("data: "):]) for line in answer.text.splitlines()
                  if line.startswith("data: ")]
        return answer, events

    return send


def test_it_takes_a_codex_turn_with_a_freeform_patch(post, fake_engine):  # noqa: F811
    fake_engine.reply(text_stream("Done."))

    answer, events = post(CAPTURED["patch_turn2"])

    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Dihya-Dropped-Tools"] == "tool_search,web_search"
    sent = fake_engine.requests[0]
    assert [m["role"] for m in sent["messages"]] == [
        "system", "system", "user", "user", "assistant", "tool"]
    called = sent["messages"][4]["tool_calls"][0]
    assert called["function"]["name"] == "apply_patch"
    assert json.loads(called["function"]["arguments"]) == {"input": PATCH}
    assert sent["messages"][5]["tool_call_id"] == "call_1"
    assert [t["function"]["name"] for t in sent["tools"]] == [
        "exec_command", "write_stdin", "request_user_input", "apply_patch", "view_image",
        "get_goal", "create_goal", "update_goal"]
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["usage"]["total_tokens"] == 17


def test_codex_gets_its_freeform_call_back_as_a_custom_tool_call(post, fake_engine):  # noqa: F811
    fake_engine.reply(call_stream("call_1", "apply_patch", '{"input": ',
                                  json.dumps(PATCH) + "}"))

    _, events = post({**CAPTURED["patch_turn2"], "input": CAPTURED["patch_turn2"]["input"][:4]})

    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done == [{"id": done[0]["id"], "call_id": "call_1", "name": "apply_patch",
                     "type": "custom_tool_call", "input": PATCH, "status": "completed"}]
    kinds = [e["type"] for e in events]
    assert kinds.index("response.custom_tool_call_input.done") < kinds.index(
        "response.output_item.done") < kinds.index("response.completed")


def test_it_takes_a_codex_turn_with_a_function_call_output(post, fake_engine):  # noqa: F811
    fake_engine.reply(call_stream("call_2", "exec_command", '{"cmd": "cat done.txt"}'))

    _, events = post(CAPTURED["tool_turn2"])

    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [(i["type"], i["name"], i["arguments"]) for i in done] == [
        ("function_call", "exec_command", '{"cmd": "cat done.txt"}')]
    sent = fake_engine.requests[0]["messages"]
    assert sent[4]["tool_calls"][0]["function"]["name"] == "exec_command"
    assert sent[5]["role"] == "tool" and sent[5]["tool_call_id"] == "call_1"


def test_it_hoists_the_tools_of_a_codex_namespace(post, fake_engine):  # noqa: F811
    fake_engine.reply(text_stream("Hi."))

    answer, events = post(CAPTURED["namespace_turn1"])

    assert answer.status_code == 200, answer.text
    names = [t["function"]["name"] for t in fake_engine.requests[0]["tools"]]
    assert "exec_command" in names and "close_agent" in names
    assert answer.headers["X-Dihya-Dropped-Tools"] == "web_search"
    message = next(e["item"] for e in events if e["type"] == "response.output_item.done")
    assert message["content"][0]["text"] == "Hi."
