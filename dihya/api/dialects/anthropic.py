"""Anthropic's Messages API at the edge: its request as a `ChatBody`, the pipeline's answer and
refusals in its shapes (`anthropic_answer`, `anthropic_stream`).

What is translated, dropped (and named) or refused is the table in docs/api.md. In short: the
system prompt becomes a system message; `tool_use` blocks become the assistant's tool calls and
`tool_result` blocks `tool` messages (placed first, as Anthropic requires them first in their
message; an image in a result follows in a user message, as tool messages carry text only);
earlier `thinking` blocks are stripped, never sent as content; system messages join the system
prompt at the top; `top_k` and server tools are left out and named in `X-Dihya-Dropped-Params`
/ `X-Dihya-Dropped-Tools`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pydantic

from dihya.api.dialects.anthropic_schema import (
    DocumentBlock,
    ImageBlock,
    MessageIn,
    MessagesBody,
    MessagesInput,
    RedactedThinkingBlock,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from dihya.generation.errors import Refusal
from dihya.generation.pipeline import Admission
from dihya.generation.requests import ChatBody

#: Anthropic's own tools carry a `type` (web_search_20250305, bash_20250124…); a client's
#: tools carry none or "custom".
CUSTOM_TOOL = (None, "custom")
#: What a tool result's error flag becomes in the text the engine reads.
TOOL_ERROR = "[tool error] "


class CustomTool(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    type: str | None = None
    name: str
    description: str | None = None
    input_schema: dict[str, Any]
    strict: bool | None = None
    # Harmless: how Anthropic's servers load and call tools; nothing for an engine.
    cache_control: dict[str, Any] | None = None
    allowed_callers: list[str] | None = None
    defer_loading: bool | None = None
    eager_input_streaming: bool | None = None
    input_examples: list[Any] | None = None


@dataclass
class Translated:
    """A Messages request as the pipeline takes it, and what the dialect left out."""

    body: ChatBody
    dropped_params: list[str] = field(default_factory=list)
    dropped_tools: list[str] = field(default_factory=list)
    thinking: bool = False  # the client asked for thinking blocks


@dataclass
class Chat:
    """The chat body being built, with the Anthropic path each chat message came from."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)

    def add(self, message: dict[str, Any], origin: str) -> None:
        self.messages.append(message)
        self.origins.append(origin)


def text_of(blocks: str | list[TextBlock]) -> str:
    return blocks if isinstance(blocks, str) else "\n\n".join(b.text for b in blocks)


def image_part(block: ImageBlock) -> dict[str, Any]:
    source = block.source
    url = source.url if source.type == "url" else f"data:{source.media_type};base64,{source.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def result_text(block: ToolResultBlock) -> str:
    content = block.content or ""
    text = content if isinstance(content, str) else "\n".join(
        p.text for p in content if isinstance(p, TextBlock))
    return TOOL_ERROR + text if block.is_error else text


def user_turn(chat: Chat, message: MessageIn, where: str) -> None:
    if isinstance(message.content, str):
        chat.add({"role": "user", "content": message.content}, where)
        return
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(message.content):
        if isinstance(block, ToolResultBlock):
            chat.add({"role": "tool", "tool_call_id": block.tool_use_id,
                      "content": result_text(block)}, f"{where}.content[{j}]")
            if isinstance(block.content, list):
                parts += [image_part(p) for p in block.content if isinstance(p, ImageBlock)]
        elif isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append(image_part(block))
        elif isinstance(block, DocumentBlock):
            raise Refusal(400, "unsupported_parameter", "Document blocks are not supported: "
                          "no engine here reads documents.", param=f"{where}.content[{j}]")
        elif isinstance(block, ToolUseBlock):
            raise Refusal(400, "invalid_request", "tool_use blocks belong to assistant "
                          "messages.", param=f"{where}.content[{j}]")
    if parts:
        only_text = all(p["type"] == "text" for p in parts)
        chat.add({"role": "user", "content": "\n\n".join(p["text"] for p in parts)
                  if only_text else parts}, where)


def system_turn(chat: Chat, message: MessageIn, where: str) -> None:
    """A system message in the conversation (Claude Code sends its environment so) joins the
    system prompt at the top: many engines' chat templates refuse a system message anywhere
    else."""
    if not isinstance(message.content, str) and not all(
            isinstance(b, TextBlock) for b in message.content):
        raise Refusal(400, "invalid_request", "A system message carries text blocks only.",
                      param=f"{where}.content")
    text = text_of(message.content)  # type: ignore[arg-type]
    if chat.messages and chat.messages[0]["role"] == "system":
        chat.messages[0]["content"] += "\n\n" + text
    else:
        chat.messages.insert(0, {"role": "system", "content": text})
        chat.origins.insert(0, where)


def assistant_turn(chat: Chat, message: MessageIn, where: str) -> None:
    if isinstance(message.content, str):
        chat.add({"role": "assistant", "content": message.content}, where)
        return
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(message.content):
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ToolUseBlock):
            calls.append({"id": block.id, "type": "function", "function": {
                "name": block.name, "arguments": json.dumps(block.input, ensure_ascii=False)}})
        elif not isinstance(block, ThinkingBlock | RedactedThinkingBlock):
            raise Refusal(400, "invalid_request", f"{block.type} blocks belong to user "
                          "messages.", param=f"{where}.content[{j}]")
    if not texts and not calls:
        return  # only thinking: nothing an engine should read
    turn: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        turn["tool_calls"] = calls
    chat.add(turn, where)


def tools_of(body: MessagesInput, translated: Translated) -> tuple[list[dict[str, Any]],
                                                                    list[str]]:
    tools: list[dict[str, Any]] = []
    origins: list[str] = []
    for i, raw in enumerate(body.tools or ()):
        if raw.get("type") not in CUSTOM_TOOL:
            translated.dropped_tools.append(str(raw.get("name") or raw.get("type")))
            continue
        try:
            tool = CustomTool.model_validate(raw)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise Refusal(400, "invalid_request", f"Invalid value for tools[{i}].{where}: "
                          f"{first['msg']}", param=f"tools[{i}].{where}") from None
        function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
        if tool.description is not None:
            function["description"] = tool.description
        if tool.strict is not None:
            function["strict"] = tool.strict
        tools.append({"type": "function", "function": function})
        origins.append(f"tools[{i}]")
    return tools, origins


def tool_choice_of(body: MessagesInput, chat: dict[str, Any]) -> None:
    choice = body.tool_choice
    if choice is None or not chat.get("tools"):
        return
    if choice.type == "tool":
        if not choice.name:
            raise Refusal(400, "invalid_request", "tool_choice of type `tool` names the tool.",
                          param="tool_choice.name")
        chat["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    else:
        chat["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice.type]
    if choice.disable_parallel_tool_use:
        chat["parallel_tool_calls"] = False


def to_chat(body: MessagesInput) -> Translated:
    """The ChatBody a Messages request stands for. Raises Refusal with the dialect's paths."""
    if body.mcp_servers or getattr(body, "container", None):
        param = "mcp_servers" if body.mcp_servers else "container"
        raise Refusal(400, "unsupported_parameter", f"{param!r} is not supported: this gateway "
                      "runs no MCP connector or code container.", param=param)
    translated = Translated(body=None)  # type: ignore[arg-type]  # set below
    chat = Chat()
    if body.system:
        chat.add({"role": "system", "content": text_of(body.system)}, "system")
    for i, message in enumerate(body.messages):
        TURNS[message.role](chat, message, f"messages[{i}]")
        if message.output_config is not None:  # Claude Code's effort for this turn
            if message.output_config.format is not None:
                raise Refusal(400, "unsupported_parameter", "A structured output format is "
                              "given for the whole request (output_config.format), not per "
                              "message.", param=f"messages[{i}].output_config.format")
            if message.output_config.effort is not None:
                translated.dropped_params.append("output_config.effort")
    wire: dict[str, Any] = {**(body.model_extra or {}), "model": body.model,
                            "messages": chat.messages}
    tools, tool_origins = tools_of(body, translated)
    if tools:
        wire["tools"] = tools
    tool_choice_of(body, wire)
    # Reasoning is answered as thinking blocks when asked for and not to be omitted.
    translated.thinking = body.thinking is not None and body.thinking.type != "disabled" \
        and body.thinking.display != "omitted"
    output = body.output_config.format if body.output_config else None
    if output := output or body.output_format:
        wire["response_format"] = {"type": "json_schema", "json_schema": {
            "name": "output", "schema": output.schema_}}
    if body.output_config is not None and body.output_config.effort is not None:
        translated.dropped_params.append("output_config.effort")
    if body.context_management:
        translated.dropped_params.append("context_management")
    if isinstance(body, MessagesBody):
        wire["max_tokens"] = body.max_tokens
        wire["stream"] = body.stream
        for name in ("temperature", "top_p"):
            if getattr(body, name) is not None:
                wire[name] = getattr(body, name)
        if body.stop_sequences:
            wire["stop"] = body.stop_sequences
        if user := (body.metadata and body.metadata.user_id) or body.user_profile_id:
            wire["user"] = user
        if body.top_k is not None:
            translated.dropped_params.append("top_k")
    translated.body = validated(wire, chat.origins, tool_origins)
    return translated


TURNS = {"user": user_turn, "assistant": assistant_turn, "system": system_turn}

#: A ChatBody field's name in Anthropic's request.
PARAM = {"stop": "stop_sequences", "user": "metadata.user_id",
         "response_format": "output_config.format"}


def validated(wire: dict[str, Any], origins: list[str], tool_origins: list[str]) -> ChatBody:
    try:
        return ChatBody.model_validate(wire)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        loc = list(first["loc"])
        param = str(loc[0]) if loc else None
        if param == "messages" and len(loc) > 1 and isinstance(loc[1], int):
            param = origins[loc[1]]
        elif param == "tools" and len(loc) > 1 and isinstance(loc[1], int):
            param = tool_origins[loc[1]]
        param = PARAM.get(param or "", param)
        message = str(first["msg"]).removeprefix("Value error, ")
        raise Refusal(400, "invalid_request", f"Invalid value for {param}: {message}"
                      if param else message, param=param) from None


def note_drops(admission: Admission, translated: Translated) -> None:
    """Name what the dialect left out in the answer's headers, beside the route's drops."""
    headers = admission.headers
    if translated.dropped_params:
        already = [p for p in headers.get("X-Dihya-Dropped-Params", "").split(",") if p]
        headers["X-Dihya-Dropped-Params"] = ",".join(sorted({*already,
                                                             *translated.dropped_params}))
    if translated.dropped_tools:
        headers["X-Dihya-Dropped-Tools"] = ",".join(translated.dropped_tools)
        admission.dropped_tools = sorted(set(translated.dropped_tools))
