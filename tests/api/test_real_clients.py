"""Real clients against a live Dihya: the openai SDK's `parse` and LangChain's ChatOpenAI.

Structured output runs on the real llama.cpp engine: its grammar constrains SmolLM2 to the
schema, and Dihya checks the answer validates before handing it over. Tool calls run on a
fake OpenAI-compatible engine answering recorded bodies (tests/api/fake_engine.py): SmolLM2
under llama.cpp does not emit tool calls, even with a tool-capable template and
`tool_choice: "required"` (see docs/api.md).
"""

from __future__ import annotations

import openai
import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from dihya.gateway.models import Attempt, Generation
from tests.api.fake_engine import answer, fake_engine, sse  # noqa: F401 - a fixture
from tests.api.test_tool_calls import TOOL_STREAM
from tests.conftest import recorded


class Person(BaseModel):
    name: str
    age: int


ASK_PERSON = "Invent a person. Answer with their name and age."


@pytest.mark.engine
def test_the_sdk_parses_structured_output_from_llama(api, llama, make_engine, make_route,
                                                     make_key):
    make_route("default", make_engine(llama, name="llama"), max_tokens=64)
    sdk = openai.OpenAI(base_url=api + "/v1", api_key=make_key(), max_retries=0, timeout=180)

    done = sdk.chat.completions.parse(model="default", response_format=Person, max_tokens=64,
                                      temperature=0,
                                      messages=[{"role": "user", "content": ASK_PERSON}])

    person = done.choices[0].message.parsed
    assert isinstance(person, Person) and person.name
    recorded()
    assert Attempt.objects.get().outcome == "ok"


@pytest.mark.engine
def test_langchain_structured_output_from_llama(api, llama, make_engine, make_route, make_key):
    make_route("default", make_engine(llama, name="llama"), max_tokens=64)
    chat = ChatOpenAI(base_url=api + "/v1", api_key=make_key(), model="default",
                      max_retries=0, timeout=180, temperature=0, max_tokens=64)

    person = chat.with_structured_output(Person, method="json_schema").invoke(ASK_PERSON)

    assert isinstance(person, Person) and person.name


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return "21 C"


CALL = {"id": "call_Paris1", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


@pytest.fixture
def chat(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake"))
    return ChatOpenAI(base_url=api + "/v1", api_key=make_key(), model="default",
                      max_retries=0, timeout=30).bind_tools([get_weather])


def test_langchain_gets_a_tool_call_and_completes_the_turn(chat, fake_engine):  # noqa: F811
    fake_engine.reply(answer(None, tool_calls=[CALL], finish_reason="tool_calls"))
    fake_engine.reply(answer("It is 21 C in Paris."))
    asked = [HumanMessage("Weather in Paris?")]

    called = chat.invoke(asked)
    assert called.tool_calls == [{"name": "get_weather", "args": {"city": "Paris"},
                                  "id": "call_Paris1", "type": "tool_call"}]
    result = get_weather.invoke(called.tool_calls[0]["args"])
    final = chat.invoke([*asked, called, ToolMessage(result, tool_call_id="call_Paris1")])

    assert final.content == "It is 21 C in Paris."
    sent = fake_engine.requests[1]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_Paris1"
    assert sent[2] == {"role": "tool", "content": "21 C", "tool_call_id": "call_Paris1"}
    assert fake_engine.requests[0]["tools"][0]["function"]["name"] == "get_weather"
    recorded()
    assert Generation.objects.filter(finish_reason="tool_calls").count() == 1


def test_langchain_streams_a_tool_call(chat, fake_engine):  # noqa: F811
    fake_engine.reply(TOOL_STREAM)

    merged = None
    for piece in chat.stream("Weather in Paris?"):
        merged = piece if merged is None else merged + piece

    assert merged.tool_calls == [{"name": "get_weather", "args": {"city": "Paris"},
                                  "id": "call_Paris1", "type": "tool_call"}]
