"""The scripted engine is a chat-completions server Dihya serves like any other.

So that an agent test that fails points at the dialect, not at its engine: here the engine's
two turns cross Dihya's own chat-completions endpoint, streamed and not, with the openai SDK.
"""

from __future__ import annotations

import openai
import pytest

from tests.agents.conftest import served_turns

ASKED = [{"role": "user", "content": "Create done.txt holding hi."}]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "streamed"])
def test_it_calls_the_tool_then_answers_once_the_result_is_back(
        api, scripted_engine, make_engine, make_route, make_key, stream):
    make_route("agent", make_engine(scripted_engine.url, name="scripted"))
    scripted_engine.play("exec_command", {"cmd": "echo hi > done.txt"}, "Done.")
    sdk = openai.OpenAI(base_url=api + "/v1", api_key=make_key(routes=["agent"]),
                        max_retries=0, timeout=30)
    tools = [{"type": "function", "function": {"name": "exec_command", "parameters": {
        "type": "object", "properties": {"cmd": {"type": "string"}}}}}]

    def turn(messages: list) -> tuple[str, list]:
        if not stream:
            message = sdk.chat.completions.create(model="agent", messages=messages,
                                                  tools=tools).choices[0].message
            return message.content or "", [c.model_dump() for c in message.tool_calls or []]
        text, calls = "", {}
        for chunk in sdk.chat.completions.create(model="agent", messages=messages,
                                                 tools=tools, stream=True):
            for choice in chunk.choices:
                text += choice.delta.content or ""
                for call in choice.delta.tool_calls or []:
                    known = calls.setdefault(call.index, {"id": call.id, "arguments": ""})
                    known["arguments"] += call.function.arguments or ""
        return text, [{"id": c["id"], "function": {"arguments": c["arguments"]}}
                      for c in calls.values()]

    _, calls = turn(ASKED)
    assert [(c["id"], c["function"]["arguments"]) for c in calls] == [
        ("call_agent1", '{"cmd": "echo hi > done.txt"}')]
    answer, calls = turn([*ASKED, {"role": "assistant", "content": None, "tool_calls": [{
        "id": "call_agent1", "type": "function", "function": {
            "name": "exec_command", "arguments": '{"cmd": "echo hi > done.txt"}'}}]},
        {"role": "tool", "tool_call_id": "call_agent1", "content": "exit 0"}])

    assert (answer, calls) == ("Done.", [])
    assert served_turns("agent") == [("succeeded", "scripted", "tool_calls"),
                                     ("succeeded", "scripted", "stop")]
