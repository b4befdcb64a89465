"""The Responses API through the official openai SDK, against a live Dihya.

The engine is the scripted OpenAI-compatible fake (tests/api/fake_engine.py): what is pinned
is the translation both ways — what the engine is sent in chat-completions form, and what the
SDK gets back in Responses form, events included.
"""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from audit.models import AuditEvent
from dihya.gateway.models import Generation
from tests.api.fake_engine import (  # noqa: F401 - a fixture
    answer,
    call,
    call_stream,
    chunk,
    fake_engine,
    sse,
    text_stream,
    usage_chunk,
)
from tests.conftest import recorded, wait_until

WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}


@pytest.fixture
def sdk(api, fake_engine, make_engine, make_route, make_key):  # noqa: F811
    make_route("default", make_engine(fake_engine.url, name="fake", capabilities=[
        "chat", "tools", "json_schema", "vision"]), max_tokens=256)
    return openai.OpenAI(base_url=api + "/v1", api_key=make_key(), max_retries=0, timeout=30)


def test_it_answers_a_plain_input(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer("Bonjour."))

    done = sdk.responses.create(model="default", input="Say hello in French.",
                                instructions="Be brief.", max_output_tokens=50)

    assert done.output_text == "Bonjour."
    assert done.id.startswith("resp_") and done.object == "response"
    assert done.status == "completed" and done.error is None and done.model == "default"
    message = done.output[0]
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_") and message.status == "completed"
    assert message.content[0].model_dump() == {"type": "output_text", "text": "Bonjour.",
                                               "annotations": [], "logprobs": []}
    assert done.usage.model_dump(exclude_none=True) == {
        "input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 17}
    assert done.instructions == "Be brief." and done.max_output_tokens == 50
    sent = fake_engine.requests[0]
    assert sent["messages"] == [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Say hello in French."}]
    assert sent["max_tokens"] == 50
    recorded()  # the end is written after the answer (batched, as production)
    assert Generation.objects.get().result == "Bonjour."


def test_it_says_an_answer_cut_at_max_output_tokens_is_incomplete(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer("Bonj", finish_reason="length"))

    done = sdk.responses.create(model="default", input="Hello", max_output_tokens=2)

    assert done.status == "incomplete"
    assert done.incomplete_details.reason == "max_output_tokens"
    assert done.output[0].status == "incomplete"


def test_it_translates_message_items_and_roles(sdk, fake_engine):  # noqa: F811
    sdk.responses.create(model="default", input=[
        {"role": "developer", "content": "Answer in French."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": "https://93.184.215.14/cat.png"}]},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Un chat."}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"role": "user", "content": "Sure?"}])

    assert fake_engine.requests[0]["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://93.184.215.14/cat.png"}}]},
        {"role": "assistant", "content": "Un chat."},
        {"role": "user", "content": "Sure?"}]


def test_it_calls_a_function_and_completes_the_turn(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer(None, tool_calls=[call("call_Paris1", "get_weather",
                                                    '{"city": "Paris"}')],
                             finish_reason="tool_calls"))
    fake_engine.reply(answer("It is 21 C in Paris."))
    asked = [{"role": "user", "content": "Weather in Paris?"}]

    first = sdk.responses.create(model="default", input=asked, tools=[WEATHER],
                                 tool_choice="auto", store=False)

    [called] = first.output
    assert called.type == "function_call" and called.id.startswith("fc_")
    assert (called.call_id, called.name, called.arguments) == (
        "call_Paris1", "get_weather", '{"city": "Paris"}')
    final = sdk.responses.create(model="default", tools=[WEATHER], input=[
        *asked, called.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": "call_Paris1", "output": "21 C"}])
    assert final.output_text == "It is 21 C in Paris."
    tools = fake_engine.requests[0]["tools"]
    assert tools == [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city.",
        "parameters": WEATHER["parameters"]}}]
    assert fake_engine.requests[0]["tool_choice"] == "auto"
    sent = fake_engine.requests[1]["messages"]
    assert sent[1]["role"] == "assistant" and sent[1]["tool_calls"] == [
        call("call_Paris1", "get_weather", '{"city": "Paris"}')]
    assert sent[2] == {"role": "tool", "content": "21 C", "tool_call_id": "call_Paris1"}


def test_it_merges_consecutive_calls_into_one_assistant_turn(sdk, fake_engine):  # noqa: F811
    sdk.responses.create(model="default", tools=[WEATHER], input=[
        {"role": "user", "content": "Paris and Rome?"},
        {"type": "function_call", "call_id": "c1", "name": "get_weather",
         "arguments": '{"city": "Paris"}'},
        {"type": "function_call", "call_id": "c2", "name": "get_weather",
         "arguments": '{"city": "Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "21 C"},
        {"type": "function_call_output", "call_id": "c2", "output": [
            {"type": "input_text", "text": "25 C"}]}])

    sent = fake_engine.requests[0]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["c1", "c2"]
    assert sent[3]["content"] == "25 C"


def test_it_maps_a_custom_tool_to_a_one_string_function_and_back(sdk, fake_engine):  # noqa: F811
    patch = "*** Begin Patch\n*** End Patch\n"
    fake_engine.reply(answer(None, tool_calls=[call("call_p", "apply_patch", json.dumps(
        {"input": patch}))], finish_reason="tool_calls"))
    custom = {"type": "custom", "name": "apply_patch", "description": "Edit files.",
              "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}

    done = sdk.responses.create(model="default", input="Fix it.", tools=[custom])

    [item] = done.output
    assert item.type == "custom_tool_call" and item.input == patch
    assert item.call_id == "call_p" and item.name == "apply_patch"
    function = fake_engine.requests[0]["tools"][0]["function"]
    assert function["parameters"]["required"] == ["input"]
    assert "start: /.+/" in function["description"]
    sdk.responses.create(model="default", tools=[custom], input=[
        {"role": "user", "content": "Fix it."}, item.model_dump(exclude_none=True),
        {"type": "custom_tool_call_output", "call_id": "call_p", "output": "Done."}])
    sent = fake_engine.requests[1]["messages"]
    assert json.loads(sent[1]["tool_calls"][0]["function"]["arguments"]) == {"input": patch}
    assert sent[2] == {"role": "tool", "content": "Done.", "tool_call_id": "call_p"}


def test_it_leaves_out_hosted_tools_and_names_them(sdk, fake_engine):  # noqa: F811
    raw = sdk.responses.with_raw_response.create(
        model="default", input="Hi", tools=[WEATHER, {"type": "web_search"},
                                            {"type": "code_interpreter",
                                             "container": {"type": "auto"}}])

    assert raw.headers["X-Dihya-Dropped-Tools"] == "web_search,code_interpreter"
    assert [t["function"]["name"] for t in fake_engine.requests[0]["tools"]] == ["get_weather"]
    assert raw.headers["X-Dihya-Engine"] == "fake"


def test_it_hoists_tools_sent_in_namespaces_and_additional_tools(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer(None, tool_calls=[call("c1", "read_file", '{"path": "a"}')],
                             finish_reason="tool_calls"))
    namespace = {"type": "namespace", "name": "files", "description": "Files.",
                 "tools": [{"type": "function", "name": "read_file", "parameters": {
                     "type": "object", "properties": {"path": {"type": "string"}}}}]}

    done = sdk.responses.create(model="default", tools=[namespace], input=[
        {"type": "additional_tools", "role": "developer", "tools": [WEATHER]},
        {"role": "user", "content": "Read a."}])

    names = [t["function"]["name"] for t in fake_engine.requests[0]["tools"]]
    assert names == ["read_file", "get_weather"]
    assert done.output[0].name == "read_file" and done.output[0].namespace == "files"


def test_it_refuses_a_tool_of_an_unknown_kind_by_its_path(sdk):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(model="default", input="Hi", tools=[{"type": "teleport"}])

    assert refused.value.body["param"] == "tools[0].type"
    assert refused.value.body["code"] == "unsupported_parameter"


def test_it_refuses_background_responses(sdk):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(model="default", input="Hi", background=True)

    assert refused.value.body["param"] == "background"


def test_it_names_a_bad_item_by_its_input_path(sdk):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.responses.create(model="default", input=[
            {"role": "user", "content": "Hi"}, {"role": "robot", "content": "Hi"}])

    assert refused.value.body["param"] == "input[1].role"


class City(BaseModel):
    name: str
    country: str


def test_it_asks_structured_output_by_text_format(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(answer('{"name": "Paris", "country": "France"}'))

    done = sdk.responses.parse(model="default", input="A city?", text_format=City,
                               reasoning={"effort": "low"}, temperature=0.2)

    assert done.output_parsed == City(name="Paris", country="France")
    sent = fake_engine.requests[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["name"] == "City"
    assert sent["response_format"]["json_schema"]["schema"]["required"] == ["name", "country"]
    assert sent["temperature"] == 0.2
    assert done.text.format.type == "json_schema"


def test_it_accepts_the_harmless_fields_agents_send(sdk, fake_engine):  # noqa: F811
    done = sdk.responses.create(
        model="default", input="Hi", store=False, include=["reasoning.encrypted_content"],
        prompt_cache_key="session-1", truncation="auto", service_tier="auto",
        parallel_tool_calls=False, metadata={"team": "a"}, safety_identifier="alice",
        text={"verbosity": "low"}, reasoning={"effort": "medium", "summary": "auto"})

    assert done.output_text == "Hello"
    assert Generation.objects.get().end_user == "alice"
    assert fake_engine.requests[0].get("reasoning_effort") in ("medium", None)


def test_it_streams_every_event_in_order(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(text_stream("Bon", "jour."))

    events = list(sdk.responses.create(model="default", input="Hello", stream=True))

    assert [e.type for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta",
        "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].response.status == "in_progress" and events[0].response.output == []
    added = events[2]
    assert added.item.type == "message" and added.item.status == "in_progress"
    assert {e.item_id for e in events[3:8]} == {added.item.id}
    assert events[6].text == "Bonjour." and events[7].part.text == "Bonjour."
    assert events[8].item.status == "completed"
    final = events[-1].response
    assert final.status == "completed" and final.output_text == "Bonjour."
    assert final.usage.input_tokens == 12 and final.usage.output_tokens == 5


def test_it_streams_a_function_call(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(call_stream("call_Paris1", "get_weather", '{"city": ', '"Paris"}'))

    events = list(sdk.responses.create(model="default", input="Weather?", tools=[WEATHER],
                                       stream=True))

    assert [e.type for e in events] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.function_call_arguments.delta", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed"]
    added = events[2].item
    assert added.type == "function_call" and added.call_id == "call_Paris1"
    assert added.name == "get_weather" and added.arguments == ""
    assert events[5].arguments == '{"city": "Paris"}'
    assert events[6].item.arguments == '{"city": "Paris"}'
    assert events[-1].response.output[0].status == "completed"


def test_it_ends_a_stream_cut_by_the_engine_with_failed(sdk, fake_engine):  # noqa: F811
    fake_engine.reply('data: {"id":"x","object":"chat.completion.chunk","created":1,'
                      '"model":"m","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
                      'data: {not json\n\n')

    events = list(sdk.responses.create(model="default", input="Hello", stream=True))

    assert events[-2].type == "error" and events[-2].code == "engine_failed_mid_stream"
    assert events[-1].type == "response.failed"
    assert events[-1].response.error.code == "engine_failed_mid_stream"


def test_it_streams_the_engines_reasoning_as_a_reasoning_item(sdk, fake_engine):  # noqa: F811
    fake_engine.reply(sse(chunk({"role": "assistant", "reasoning_content": "Think."}),
                          chunk({"content": "Done."}), chunk({}, "stop"), usage_chunk()))

    events = list(sdk.responses.create(model="default", input="Hello", stream=True))

    assert [e.type for e in events][2:7] == [
        "response.output_item.added", "response.reasoning_text.delta",
        "response.reasoning_text.done", "response.output_item.done",
        "response.output_item.added"]
    final = events[-1].response
    assert [i.type for i in final.output] == ["reasoning", "message"]
    assert final.output[0].content[0].text == "Think." and final.output_text == "Done."


def test_the_audit_event_names_the_hosted_tools_left_out(sdk, fake_engine):  # noqa: F811
    sdk.responses.create(model="default", input="Hi", tools=[{"type": "web_search"}])

    wait_until(lambda: AuditEvent.objects.filter(kind="generation").exists(),
               what="the generation's audit event")
    event = AuditEvent.objects.get(kind="generation")
    assert event.details["dropped_tools"] == ["web_search"]


def test_an_image_a_tool_returns_follows_its_result_as_a_user_message(sdk, fake_engine):  # noqa: F811
    sdk.responses.create(model="default", tools=[WEATHER], input=[
        {"role": "user", "content": "Look at the map."},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": [
            {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}]}])

    sent = fake_engine.requests[0]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[3]["content"] == [{"type": "image_url", "image_url": {
        "url": "data:image/png;base64,iVBORw0KGgo="}}]


@pytest.mark.engine
def test_llama_answers_the_responses_api_plain_and_streamed(api, llama, make_engine,
                                                            make_route, make_key):
    make_route("default", make_engine(llama, name="llama"), max_tokens=16)
    sdk = openai.OpenAI(base_url=api + "/v1", api_key=make_key(), max_retries=0, timeout=180)

    done = sdk.responses.create(model="default", input="Say hi.", max_output_tokens=8,
                                temperature=0)
    events = list(sdk.responses.create(model="default", input="Say hi.", max_output_tokens=8,
                                       temperature=0, stream=True))

    assert done.output_text and done.usage.output_tokens > 0
    assert events[-1].type in ("response.completed", "response.incomplete")
    assert events[-1].response.output_text == done.output_text


def test_it_names_the_responses_field_a_chat_limit_refuses(sdk):
    with pytest.raises(openai.BadRequestError) as too_long:
        sdk.responses.create(model="default", input="Hi", max_output_tokens=100_000)
    with pytest.raises(openai.BadRequestError) as too_hot:
        sdk.responses.create(model="default", input="Hi", temperature=3)

    assert too_long.value.body["param"] == "max_output_tokens"
    assert too_hot.value.body["param"] == "temperature"


def test_it_needs_a_key_with_the_chat_scope(api, sdk, make_key):
    jobs_only = openai.OpenAI(base_url=api + "/v1", max_retries=0, timeout=30,
                              api_key=make_key("batch", scopes=frozenset({"jobs"})))

    with pytest.raises(openai.PermissionDeniedError) as refused:
        jobs_only.responses.create(model="default", input="Hi")
    with pytest.raises(openai.PermissionDeniedError):
        jobs_only.responses.retrieve("resp_x")

    assert refused.value.body["code"] == "scope_not_allowed"


def test_langchain_on_the_responses_api_gets_a_tool_call(api, sdk, fake_engine, make_key):  # noqa: F811
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "21 C"

    fake_engine.reply(answer(None, tool_calls=[call("call_1", "get_weather",
                                                    '{"city": "Paris"}')],
                             finish_reason="tool_calls"))
    chat = ChatOpenAI(base_url=api + "/v1", api_key=make_key(), model="default",
                      use_responses_api=True, max_retries=0, timeout=30)

    called = chat.bind_tools([get_weather]).invoke("Weather in Paris?")

    assert called.tool_calls == [{"name": "get_weather", "args": {"city": "Paris"},
                                  "id": "call_1", "type": "tool_call"}]
