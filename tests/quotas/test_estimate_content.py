"""The quota estimate weighs what a request sends besides text: tool calls, schemas, images."""

from __future__ import annotations

from fallbacks.spec import PART_CHARS, ChatRequest, Message, Part, Tool, ToolCall


def test_tools_calls_and_images_weigh_in_the_estimate():
    plain = ChatRequest(messages=(Message("user", "hi"),), max_tokens=4)
    image = Part("image_url", url="data:image/png;base64," + "A" * 9000)
    rich = ChatRequest(max_tokens=4, tools=(Tool("f", "d", {"type": "object"}),), messages=(
        Message("user", "hi", parts=(image,)),
        Message("assistant", "", tool_calls=(ToolCall("c", "f", '{"a": 1}'),))))

    assert plain.prompt_chars == len("user") + 2
    assert rich.prompt_chars > plain.prompt_chars + PART_CHARS + len('{"a": 1}')
    assert rich.prompt_chars < 9000  # an image counts as a flat weight, not its base64 length
