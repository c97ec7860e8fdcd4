"""Kimi's rules for tools in a chat request (kimi-api.md sections 2.2 and 2.8): the declarations,
`tool_choice`, and the pairing of each assistant tool call with exactly one tool message.

Pure functions only, raising `Rejection` like `rules` (house style 0.6 holds here too).
"""

import re
from typing import Any

from kimi_mcp.emulator.catalogue import Obj, family
from kimi_mcp.emulator.rules import Rejection, bad

FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9-_]{2,63}$")  # section 2.2, the tools row
CALL_TYPES = ("function", "builtin_function")


def check_tools(body: Obj, model: Obj, thinking: bool) -> tuple[Obj, ...]:
    """The declared tools, `tool_choice`, the reasoning_content rule of thinking tool loops and
    the tool-call pairing; answers the `function` objects of the declarations."""
    tools = body.get("tools")
    if tools is not None and (not isinstance(tools, list) or len(tools) > 128):
        raise bad("tools must be a list of at most 128 tools")
    declared = _declarations(tools or [])
    _check_tool_choice(body.get("tool_choice"), model, thinking)
    for message in body["messages"] if thinking else []:
        # The docs say to send each thinking tool-call turn back with its reasoning (2.2).
        if message.get("tool_calls") and not message.get("reasoning_content"):
            raise Rejection("thinking is enabled but reasoning_content is missing")
    check_tool_messages(body["messages"])
    return declared


def _declarations(tools: list[Any]) -> tuple[Obj, ...]:
    functions: list[Obj] = []
    for i, tool in enumerate(tools):
        kind = tool.get("type") if isinstance(tool, dict) else None
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if kind not in CALL_TYPES or not isinstance(function, dict) or not isinstance(name, str):
            raise bad(f'tools[{i}] must be {{"type": "function", "function": {{"name": ...}}}}')
        if kind == "builtin_function" and not name.startswith("$"):
            raise bad(f"tools[{i}] is a builtin_function, whose names start with $")
        if kind == "function" and not FUNCTION_NAME.match(name):
            raise bad(f"tools[{i}].function.name must match {FUNCTION_NAME.pattern}")
        if not isinstance(function.get("parameters", {}), dict):
            raise bad(f"tools[{i}].function.parameters must be a JSON Schema object")
        if any(known["name"] == name for known in functions):
            # The docs answer a duplicate name with 401 and tell clients to treat any 4xx as an
            # invalid request (section 2.8); 400 keeps it among the refusals the test sweep reports.
            raise bad(f"duplicate function name in tools: {name}")
        functions.append(function)
    return tuple(functions)


def _check_tool_choice(choice: Any, model: Obj, thinking: bool) -> None:
    if choice is None or choice in ("auto", "none"):
        return
    if choice == "required":
        if family(str(model.get("id"))) != "kimi-k3":
            raise bad(f"tool_choice 'required' is not supported by model {model.get('id')}")
        return
    if not isinstance(choice, dict) or choice.get("type") != "function":
        raise bad("tool_choice must be auto, none, required or a function object")
    if thinking:
        raise Rejection("tool_choice 'specified' is incompatible with thinking enabled")


def check_tool_messages(messages: list[Obj]) -> None:
    """Each assistant tool call answered by exactly one of the tool messages right after it
    (in any order), and no tool message anywhere else (section 2.8, step 4)."""
    pending: set[str] | None = None  # calls of the last tool-call turn not yet answered
    answered: set[str] = set()
    owner = 0
    for i, message in enumerate(messages):
        if message["role"] == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise bad(f"messages[{i}] is a tool message without a tool_call_id")
            if pending is None:
                raise bad(f"messages[{i}] is a tool message with no preceding assistant tool call")
            if call_id in answered:
                raise bad(f"more than one tool message for tool_call_id {call_id}")
            if call_id not in pending:
                raise bad(f"tool_call_id {call_id} not found in messages[{owner}].tool_calls")
            pending.remove(call_id)
            answered.add(call_id)
            continue
        _check_answered(owner, pending)
        pending, answered, owner = None, set(), i
        if message["role"] == "assistant" and message.get("tool_calls"):
            pending = set(_call_ids(i, message["tool_calls"]))
    _check_answered(owner, pending)


def _check_answered(owner: int, pending: set[str] | None) -> None:
    if pending:
        missing = ", ".join(sorted(pending))
        raise bad(f"messages[{owner}].tool_calls need one tool message each; missing: {missing}")


def _call_ids(i: int, calls: Any) -> list[str]:
    shape = '{"id", "type": "function", "function": {"name", "arguments": <JSON string>}}'
    if not isinstance(calls, list):
        raise bad(f"messages[{i}].tool_calls must be a list of {shape}")
    ids: list[str] = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not (
            isinstance(call, dict)
            and isinstance(call.get("id"), str)
            and call["id"]
            and call.get("type") in CALL_TYPES
            and isinstance(function, dict)
            and isinstance(function.get("name"), str)
            and isinstance(function.get("arguments"), str)
        ):
            raise bad(f"messages[{i}].tool_calls items must be {shape}")
        if call["id"] in ids:
            raise bad(f"messages[{i}].tool_calls has the id {call['id']} twice")
        ids.append(call["id"])
    return ids
