"""Engine output is cleaned like client input: no NUL or other control character but tab,
newline and carriage return, no lone surrogate, whatever the engine sends and however."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fallbacks.text import clean_output
from tests.providers.fakes import Fake, answer, collect, complete, fixture, streamed

# What an engine may put in a JSON string: "\u0000", "\u001b", "\ud800" are valid JSON escapes.
DIRTY = "Bon\x00jour\x1b[31m \ud800! \x7f\x85ok\tdone\r\n"
CLEAN = "Bonjour[31m \ufffd! ok\tdone\r\n"
FORBIDDEN = {*map(chr, range(0x20)), *map(chr, range(0x7f, 0xa0))} - {"\t", "\n", "\r"}


def test_it_drops_controls_but_tab_newline_and_cr_and_replaces_lone_surrogates():
    assert clean_output(DIRTY) == CLEAN


def test_it_returns_clean_text_as_it_is():
    text = "Ça va ? 🙂 — tab\there\nnew line\r\n" + "x" * 10_000
    assert clean_output(text) is text


@given(st.text())
def test_it_drops_or_replaces_those_characters_and_nothing_else(text):
    out = clean_output(text)
    assert out == "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c
                          for c in text if c not in FORBIDDEN)
    out.encode("utf-8")  # a lone surrogate would raise here, as it does in the database driver


def openai_answer(content: str) -> str:
    body = json.loads(fixture("openai_completion.json"))
    body["choices"][0]["message"]["content"] = content
    body["choices"][0]["finish_reason"] = "stop\x00"
    return json.dumps(body)  # ensure_ascii: controls and the surrogate go as \u escapes


def sse(*contents: str) -> bytes:
    chunks = [{"choices": [{"index": 0, "delta": {"content": c}, "finish_reason": None}]}
              for c in contents]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n"


@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_openai_shaped_completions_are_cleaned(provider):
    completion = complete(Fake(answer(200, openai_answer(DIRTY))).provider(provider))
    assert completion.text == CLEAN
    assert completion.finish_reason == "stop"


@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_openai_shaped_stream_deltas_are_cleaned(provider):
    deltas = collect(Fake(streamed([sse("Bon\x00jour", " \ud800!", "\x00")])).provider(provider))
    # The chunk that was only a NUL is no delta at all.
    assert [(d.text, d.finish_reason) for d in deltas] == [
        ("Bonjour", None), (" \ufffd!", None), ("", "stop")]


def test_a_stream_answered_as_one_json_body_is_cleaned():
    fake = Fake(answer(200, openai_answer(DIRTY)))  # the server ignored `stream: true`
    (delta,) = collect(fake.provider("openai"))
    assert (delta.text, delta.finish_reason) == (CLEAN, "stop")


def test_content_given_as_parts_is_cleaned():
    body = json.loads(openai_answer(""))
    body["choices"][0]["message"]["content"] = [{"type": "text", "text": "a\x00b"},
                                                {"type": "text", "text": "\udfffc"}]
    assert complete(Fake(answer(200, json.dumps(body))).provider("openai")).text == "ab\ufffdc"


def ollama_line(content: str, done: bool = False) -> dict:
    line = {"model": "m", "message": {"role": "assistant", "content": content}, "done": done}
    if done:
        line.update(done_reason="stop", prompt_eval_count=3, eval_count=2)
    return line


def test_ollama_completions_are_cleaned():
    body = json.dumps(ollama_line(DIRTY, done=True))
    assert complete(Fake(answer(200, body)).provider("ollama")).text == CLEAN


def test_ollama_stream_deltas_are_cleaned():
    lines = [ollama_line("Bon\x00jour"), ollama_line(" \ud800!"), ollama_line("\x00", done=True)]
    raw = "".join(json.dumps(line) + "\n" for line in lines).encode()
    deltas = collect(Fake(streamed([raw], content_type="application/x-ndjson")).provider("ollama"))
    assert "".join(d.text for d in deltas) == "Bonjour \ufffd!"
    assert deltas[-1].finish_reason == "stop"
