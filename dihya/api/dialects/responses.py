"""The OpenAI Responses API at the edge: a `POST /v1/responses` body as the one ChatBody.

Input items become chat messages (`function_call` items an assistant's tool calls, their
outputs tool messages), `instructions` a leading system message, Codex's freeform `custom`
tools functions of one string argument `input` (mapped back by `ToolMap`), and tools sent in
`namespace` tools or `additional_tools` items are hoisted among the others. Hosted tools no
engine can run (`web_search`…) are left out and named (`Translation.dropped_tools`); a tool
of a kind we do not know is refused. `reasoning` items are the model's own notes: they never
reach an engine. Every error names the field in the Responses body (`input[2].content`),
never the ChatBody it was translated to. Fields that mean nothing to an engine (`store`,
`include`, `truncation`…) are consumed here; unknown ones go on to the route's `drop_params`
like a chat body's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from dihya.api.dialects.responses_tools import (
    CUSTOM_INPUT,
    HOSTED_CALLS,
    ToolMap,
    listed,
    refuse,
    tool_choice_of,
    tool_defs,
)
from dihya.generation.errors import Refusal
from dihya.generation.requests import ChatBody

__all__ = ["ResponsesBody", "Translation", "to_chat"]

ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
EFFORTS = {"none": "none", "minimal": "minimal", "low": "low", "medium": "medium",
           "high": "high", "xhigh": "high"}


class ResponsesBody(BaseModel):
    """What `POST /v1/responses` accepts; unknown fields are kept aside like a chat body's."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(..., min_length=1, max_length=64, description="The route's name.")
    input: str | list[dict[str, Any]] = Field(..., description="Text, or input items.")
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = Field(None, max_length=256)
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, str] | None = None
    user: str | None = Field(None, max_length=256)
    safety_identifier: str | None = Field(None, max_length=256)
    store: bool = True
    previous_response_id: str | None = Field(None, max_length=100)
    include: list[str] | None = None
    prompt_cache_key: str | None = Field(None, max_length=256)
    prompt_cache_retention: str | None = None
    truncation: Literal["auto", "disabled"] | None = None
    service_tier: str | None = Field(None, max_length=32)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    background: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    client_metadata: dict[str, Any] | None = Field(None, description="Codex's: accepted.")


@dataclass
class Translation:
    """A Responses body translated: the ChatBody and what the answer needs to map back."""

    chat: ChatBody
    tools: ToolMap
    dropped_tools: list[str]
    items: list[dict[str, Any]]  # the conversation's input items, as stored (ids given)


def to_chat(body: ResponsesBody, *, history: list[dict[str, Any]] | None = None,
            new_id: Any = None) -> Translation:
    """The ChatBody for `body`, after the `history` of `previous_response_id` (its stored
    input and output items). `new_id(prefix)` names the items that come without an id."""
    if body.background:
        raise refuse("background responses are not supported: send background: false and "
                     "wait for the answer (or stream it).", "background")
    tools, dropped = ToolMap(), list[str]()
    functions: list[dict[str, Any]] = []
    for i, tool in enumerate(body.tools or ()):
        functions += tool_defs(tool, f"tools[{i}]", tools, dropped)
    own = [{"type": "message", "role": "user", "content": body.input}] \
        if isinstance(body.input, str) else list(body.input)
    own = [stored_item(item, new_id) for item in own]
    for i, item in enumerate(own):
        if item.get("type") == "additional_tools":
            for j, extra in enumerate(listed(item.get("tools"), f"input[{i}].tools")):
                functions += tool_defs(extra, f"input[{i}].tools[{j}]", tools, dropped)
    items = (history or []) + own
    origin = ["previous_response_id"] * len(history or []) + \
        [f"input[{i}]" for i in range(len(own))]
    messages, paths = [], []
    if body.instructions:
        messages.append({"role": "system", "content": body.instructions})
        paths.append("instructions")
    for item, path in zip(items, origin, strict=True):
        for message in messages_of(item, path, tools, messages):
            messages.append(message)
            paths.append(path)
    if not messages:
        raise refuse("input has no message an engine can answer.", "input")
    chat: dict[str, Any] = {"model": body.model, "messages": messages, "stream": body.stream,
                            **(body.model_extra or {})}
    if body.stream:
        chat["stream_options"] = {"include_usage": True}
    for name in ("temperature", "top_p", "parallel_tool_calls", "metadata", "service_tier"):
        if getattr(body, name) is not None:
            chat[name] = getattr(body, name)
    if body.max_output_tokens is not None:
        chat["max_tokens"] = body.max_output_tokens
    if body.user or body.safety_identifier:
        chat["user"] = body.user or body.safety_identifier
    if body.top_logprobs:
        chat.update(logprobs=True, top_logprobs=body.top_logprobs)
    if functions:
        chat["tools"] = functions
        if body.tool_choice is not None:
            chat["tool_choice"] = tool_choice_of(body.tool_choice, tools)
    if body.text and (fmt := body.text.get("format")):
        chat["response_format"] = response_format_of(fmt)
    if body.reasoning and (effort := body.reasoning.get("effort")):
        if not isinstance(effort, str) or effort not in EFFORTS:
            raise refuse(f"reasoning.effort {effort!r} is not one of {sorted(EFFORTS)}.",
                         "reasoning.effort")
        chat["reasoning_effort"] = EFFORTS[effort]
    try:
        translated = ChatBody.model_validate(chat)
    except PydanticError as exc:
        raise invalid(exc, paths) from None
    return Translation(translated, tools, dropped, items)


def stored_item(item: Any, new_id: Any) -> Any:
    """An input item as the conversation keeps it: with an id, a message's text as a part."""
    if not isinstance(item, dict) or new_id is None:
        return item
    kind = str(item.get("type", "message"))
    if kind == "message" and isinstance(item.get("content"), str):
        part = "output_text" if item.get("role") == "assistant" else "input_text"
        item = {**item, "type": "message", "content": [{"type": part,
                                                        "text": item["content"]}]}
    if item.get("id"):
        return item
    prefix = {"message": "msg", "function_call_output": "fco",
              "custom_tool_call_output": "ctco"}.get(kind, "item")
    return {"id": new_id(prefix), **item}


def response_format_of(fmt: Any) -> dict[str, Any]:
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object",
                                                             "json_schema"):
        raise refuse("text.format.type is text, json_object or json_schema.",
                     "text.format.type")
    if fmt["type"] != "json_schema":
        return {"type": fmt["type"]}
    spec = {k: fmt[k] for k in ("name", "description", "schema", "strict") if k in fmt}
    return {"type": "json_schema", "json_schema": spec}


def text_of(content: Any, path: str, *, images: bool = False) -> str | list[dict[str, Any]]:
    """A message's content as chat content: text, or parts when it carries images."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise refuse("content is a string or a list of parts.", path)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        kind = str(part.get("type")) if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": part.get("refusal", "")})
        elif kind == "input_image" and images and part.get("image_url"):
            image = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise Refusal(400, "unsupported_parameter", f"Content parts of type {kind!r} are "
                          "not supported here" + (" (images are given by image_url)"
                                                  if kind == "input_image" else "") + ".",
                          param=f"{path}[{j}].type")
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def messages_of(item: Any, path: str, tools: ToolMap,
                before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat messages one input item becomes; a call joins the assistant message before
    it (consecutive calls are one assistant turn), so it may add none."""
    if not isinstance(item, dict):
        raise refuse("an input item is an object.", path)
    kind = str(item.get("type", "message"))
    if kind == "message":
        role = ROLES.get(str(item.get("role", "")))
        if role is None:
            raise refuse("role is user, assistant, system or developer.", f"{path}.role")
        return [{"role": role, "content": text_of(item.get("content", ""), f"{path}.content",
                                                  images=role == "user")}]
    if kind in ("function_call", "custom_tool_call"):
        call_id, name = item.get("call_id"), item.get("name")
        if not call_id or not name:
            raise refuse("a call needs its call_id and name.", path)
        flat = tools.flat_of(str(name), item.get("namespace"))
        arguments = item.get("arguments", "") if kind == "function_call" else \
            json.dumps({CUSTOM_INPUT: item.get("input", "")})
        call = {"id": call_id, "type": "function",
                "function": {"name": flat, "arguments": arguments or "{}"}}
        last = before[-1] if before else None
        if last is not None and last["role"] == "assistant":  # the same turn
            last.setdefault("tool_calls", []).append(call)
            return []
        return [{"role": "assistant", "content": None, "tool_calls": [call]}]
    if kind in ("function_call_output", "custom_tool_call_output"):
        if not item.get("call_id"):
            raise refuse("a call's output says which call it answers (call_id).",
                         f"{path}.call_id")
        output = text_of(item.get("output", ""), f"{path}.output", images=True)
        if isinstance(output, str):
            return [{"role": "tool", "tool_call_id": item["call_id"], "content": output}]
        # A tool message carries text only (Codex's view_image answers an image): the
        # images follow in a user message, as the result's continuation.
        text = "".join(p["text"] for p in output if p["type"] == "text")
        return [{"role": "tool", "tool_call_id": item["call_id"],
                 "content": text or "(the result is the image in the next message)"},
                {"role": "user", "content": [p for p in output if p["type"] != "text"]}]
    if kind in ("reasoning", "additional_tools", "compaction") or kind in HOSTED_CALLS:
        return []  # the model's notes, tools (hoisted above), hosted tools' records
    raise Refusal(400, "unsupported_parameter", f"Input items of type {kind!r} are not "
                  "supported.", param=f"{path}.type")


FIELDS = {"max_tokens": "max_output_tokens", "response_format": "text.format",
          "reasoning_effort": "reasoning.effort", "user": "user", "tools": "tools",
          "tool_choice": "tool_choice"}


def invalid(exc: PydanticError, paths: list[str]) -> Refusal:
    """A ChatBody's validation error, named by the Responses field it came from."""
    error = exc.errors()[0]
    loc = [p for p in error.get("loc", ()) if not (isinstance(p, str) and (
        "[" in p or p[:1].isupper() or p in ("str", "list", "function-after")))]
    param: str | None = None
    if loc and loc[0] == "messages" and len(loc) > 1 and isinstance(loc[1], int):
        param = paths[loc[1]] if loc[1] < len(paths) else "input"
        rest = [p for p in loc[2:] if p not in ("tool_calls", "function")]
        if rest and rest[0] == "content":
            param += ".content"
    elif loc:
        param = FIELDS.get(str(loc[0]), str(loc[0]))
    if error.get("type") == "extra_forbidden":
        return Refusal(400, "unsupported_parameter", f"Unsupported parameter: {param!r}.",
                       param=param)
    return refuse(f"Invalid value for {param}: {error.get('msg', 'invalid')}", param or "input")
