"""The tools of a Responses request as chat functions, and back.

Functions pass as they are; Codex's freeform `custom` tools become functions of one string
argument `input` (their grammar told in the description); the tools of a `namespace` tool are
hoisted among the others, each remembered with its namespace (`ToolMap`), so that a call
is answered in the client's terms. Hosted tools (`HOSTED_TOOLS`) are run by OpenAI, not by
any engine: they are left out and named, never silently; an unknown kind is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dihya.generation.errors import Refusal

#: Tools OpenAI runs on its own servers (or a client runs in OpenAI's own shape): no engine
#: behind Dihya can, so a request naming them is served without them (and says so).
HOSTED_TOOLS = frozenset({
    "web_search", "web_search_preview", "web_search_2025_08_26",
    "web_search_preview_2025_03_11", "file_search", "code_interpreter", "image_generation",
    "local_shell", "computer_use_preview", "computer", "computer_use", "mcp", "shell",
    "apply_patch", "tool_search"})
#: Items of the history that record what a hosted tool did: nothing an engine can read.
HOSTED_CALLS = frozenset({
    "web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call",
    "computer_call", "computer_call_output", "local_shell_call", "local_shell_call_output",
    "mcp_call", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response",
    "tool_search_call", "tool_search_output", "shell_call", "shell_call_output",
    "apply_patch_call", "apply_patch_call_output"})
CUSTOM_INPUT = "input"  # the one argument of a custom tool's function


@dataclass(frozen=True, slots=True)
class Named:
    """A tool as the client declared it: its kind (function or custom), name and namespace."""

    kind: Literal["function", "custom"]
    name: str
    namespace: str | None = None


@dataclass
class ToolMap:
    """Which function an engine sees stands for which tool of the client's."""

    by_flat: dict[str, Named] = field(default_factory=dict)

    def add(self, named: Named) -> str:
        flat = named.name
        if flat in self.by_flat and self.by_flat[flat] != named and named.namespace:
            flat = f"{named.namespace}__{named.name}"[:64]
        self.by_flat[flat] = named
        return flat

    def flat_of(self, name: str, namespace: str | None = None) -> str:
        for flat, named in self.by_flat.items():
            if named.name == name and named.namespace == namespace:
                return flat
        return name

    def named(self, flat: str) -> Named:
        return self.by_flat.get(flat, Named("function", flat))


def refuse(message: str, param: str) -> Refusal:
    return Refusal(400, "invalid_request", message, param=param)


def listed(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise refuse("a list of tools is expected.", path)
    return value


def tool_defs(tool: Any, path: str, tools: ToolMap, dropped: list[str],
              namespace: str | None = None) -> list[dict[str, Any]]:
    """The chat functions one tool of the request stands for (none for a hosted tool)."""
    if not isinstance(tool, dict):
        raise refuse("a tool is an object with a type.", path)
    kind = str(tool.get("type"))
    if kind in HOSTED_TOOLS:
        dropped.append(str(kind))
        return []
    if kind == "namespace":
        inner = listed(tool.get("tools"), f"{path}.tools")
        return [d for j, t in enumerate(inner)
                for d in tool_defs(t, f"{path}.tools[{j}]", tools, dropped,
                                   namespace=str(tool.get("name") or ""))]
    if kind not in ("function", "custom"):
        raise Refusal(400, "unsupported_parameter", f"Tools of type {kind!r} are not "
                      "supported.", param=f"{path}.type")
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise refuse("a tool needs a name.", f"{path}.name")
    if kind == "function":
        flat = tools.add(Named("function", name, namespace))
        function = {"name": flat, "description": tool.get("description"),
                    "parameters": tool.get("parameters"), "strict": tool.get("strict")}
        return [{"type": "function", "function": {k: v for k, v in function.items()
                                                  if v is not None}}]
    flat = tools.add(Named("custom", name, namespace))
    description = tool.get("description") or ""
    fmt = tool.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "grammar" and fmt.get("definition"):
        description += (f"\n\nThe `{CUSTOM_INPUT}` argument is raw text following this "
                        f"{fmt.get('syntax', '')} grammar:\n{fmt['definition']}")
    return [{"type": "function", "function": {
        "name": flat, "description": description.strip() or None,
        "parameters": {"type": "object", "properties": {CUSTOM_INPUT: {
            "type": "string", "description": "The tool's input, as raw text."}},
            "required": [CUSTOM_INPUT], "additionalProperties": False}}}]


def tool_choice_of(choice: str | dict[str, Any], tools: ToolMap) -> Any:
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise refuse(f"tool_choice {choice!r} is not none, auto or required.",
                         "tool_choice")
        return choice
    kind = str(choice.get("type"))
    if kind in ("function", "custom") and choice.get("name"):
        flat = tools.flat_of(str(choice["name"]), choice.get("namespace"))
        return {"type": "function", "function": {"name": flat}}
    if kind == "allowed_tools":
        return "required" if choice.get("mode") == "required" else "auto"
    if kind in HOSTED_TOOLS:
        return "auto"  # the hosted tool itself is left out (and named)
    raise refuse(f"tool_choice of type {kind!r} is not supported.", "tool_choice.type")
