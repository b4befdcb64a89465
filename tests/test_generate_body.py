"""The `generate` command takes the same body as the API and the jobs API, tools included."""

from __future__ import annotations

import io
import json

import httpx
import respx
from django.core.management import call_command

from dihya.gateway.models import Generation
from dihya.generation import callbacks

CALL = {"id": "call_7", "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oran"}'}}
BODY = {"messages": [{"role": "user", "content": "Weather in Oran?"}], "max_tokens": 16,
        "tools": [{"type": "function", "function": {"name": "get_weather",
                                                    "parameters": {"type": "object"}}}],
        "tool_choice": "required"}


@respx.mock
def test_it_runs_a_tool_body_and_reports_the_call(make_engine, make_route, tmp_path):
    engine = respx.post("http://tools.test/v1/chat/completions").mock(
        return_value=httpx.Response(200, json={"choices": [{"message": {
            "role": "assistant", "content": None, "tool_calls": [CALL]},
            "finish_reason": "tool_calls"}], "usage": {"prompt_tokens": 9,
                                                       "completion_tokens": 4}}))
    make_route("default", make_engine("http://tools.test/v1"))
    path = tmp_path / "body.json"
    path.write_text(json.dumps(BODY))
    out = io.StringIO()

    call_command("generate", "--body", str(path), "--inline", stdout=out, stderr=io.StringIO())

    sent = json.loads(engine.calls[0].request.content)
    assert sent["tool_choice"] == "required" and sent["tools"] == BODY["tools"]
    assert json.loads(out.getvalue().splitlines()[0])["tool_calls"][0]["name"] == "get_weather"
    report = callbacks.report(Generation.objects.get())
    assert report["tool_calls"] == [CALL] and report["finish_reason"] == "tool_calls"


@respx.mock
def test_it_embeds_a_prompt_on_a_worker_and_prints_the_vectors(make_engine, make_route):
    respx.post("http://embed.test/v1/embeddings").mock(return_value=httpx.Response(200, json={
        "data": [{"index": 0, "embedding": [0.5, -0.5]}],
        "usage": {"prompt_tokens": 3, "total_tokens": 3}}))
    make_route("embed", make_engine("http://embed.test/v1", capabilities=["embeddings"]))
    out = io.StringIO()

    call_command("generate", "A text", "--route", "embed", "--embed", "--inline", stdout=out,
                 stderr=io.StringIO())

    assert json.loads(out.getvalue()) == [[0.5, -0.5]]
    assert Generation.objects.get().kind == "embeddings"
