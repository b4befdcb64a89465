"""The OpenAI Agents SDK with its default model (the Responses API) against a live Dihya.

A function tool makes the run take two turns: the scripted engine asks for the tool, the SDK
runs it and sends its output back as a `function_call_output` item, the engine answers.
"""

from __future__ import annotations

import asyncio

import pytest
from agents import (
    Agent,
    Runner,
    function_tool,
    set_default_openai_api,
    set_default_openai_client,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

from tests.api.fake_engine import answer, call, call_stream, fake_engine, text_stream  # noqa: F401


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"21 C in {city}"


@pytest.fixture
def agent(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake"))
    set_tracing_disabled(True)
    set_default_openai_api("responses")  # the SDK's default, said out loud
    set_default_openai_client(AsyncOpenAI(base_url=api + "/v1", api_key=make_key(),
                                          max_retries=0, timeout=30), use_for_tracing=False)
    return Agent(name="Forecaster", instructions="Answer with the tool.", model="default",
                 tools=[get_weather])


def test_the_agents_sdk_runs_a_function_tool(agent, fake_engine):  # noqa: F811
    fake_engine.reply(answer(None, tool_calls=[call("call_1", "get_weather",
                                                    '{"city": "Paris"}')],
                             finish_reason="tool_calls"))
    fake_engine.reply(answer("It is 21 C in Paris."))

    result = asyncio.run(Runner.run(agent, "Weather in Paris?"))

    assert result.final_output == "It is 21 C in Paris."
    second = fake_engine.requests[1]["messages"]
    assert second[0] == {"role": "system", "content": "Answer with the tool."}
    assert second[2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert second[3] == {"role": "tool", "tool_call_id": "call_1", "content": "21 C in Paris"}


def test_the_agents_sdk_streams_a_function_tool(agent, fake_engine):  # noqa: F811
    fake_engine.reply(call_stream("call_1", "get_weather", '{"city": ', '"Rome"}'))
    fake_engine.reply(text_stream("It is 21 C ", "in Rome."))

    async def run() -> str:
        streamed = Runner.run_streamed(agent, "Weather in Rome?")
        async for _ in streamed.stream_events():
            pass
        return str(streamed.final_output)

    assert asyncio.run(run()) == "It is 21 C in Rome."
    assert fake_engine.requests[1]["messages"][3]["content"] == "21 C in Rome"
