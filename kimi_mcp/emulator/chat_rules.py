"""Kimi's rules for `POST /v1/chat/completions` beyond the messages: thinking, sampling, tools,
response format, stop strings, max_tokens and the context window (kimi-api.md sections 2-4).

Pure functions only, raising `Rejection` like `rules` (house style 0.6 holds here too).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kimi_mcp.emulator.catalogue import (
    FIXED_FAMILIES,
    THINKING_FAMILIES,
    Obj,
    count_tokens,
    family,
    text_tokens,
)
from kimi_mcp.emulator.rules import Rejection, bad, check_fields, check_messages, find_model
from kimi_mcp.emulator.tool_rules import check_tools

SAMPLING = ("temperature", "top_p", "n", "presence_penalty", "frequency_penalty")
FIXED_SAMPLING = {"top_p": 0.95, "n": 1, "presence_penalty": 0.0, "frequency_penalty": 0.0}
CHAT_FIELDS = frozenset(
    {"model", "messages", "max_tokens", "max_completion_tokens", "stop", "response_format"}
    | {"stream", "stream_options", "tools", "tool_choice", "thinking", "reasoning_effort"}
    | {"prompt_cache_key", "safety_identifier", "logprobs", "top_logprobs", "prediction"}
    | set(SAMPLING)
)


def thinking_on(model: Obj, thinking: Any, effort: Any) -> bool:
    """Check `thinking` / `reasoning_effort` for the model and say whether it thinks."""
    fam, model_id = family(str(model.get("id"))), model.get("id")
    if thinking is not None and effort is not None:
        raise bad("thinking and reasoning_effort cannot be used together")
    if effort is not None:
        if fam != "kimi-k3":
            raise bad(f"reasoning_effort is not supported by model {model_id}")
        if effort not in ("low", "high", "max"):
            raise bad("reasoning_effort must be one of low, high, max")
    if thinking is None:
        return fam in FIXED_FAMILIES or (fam == "other" and bool(model.get("supports_reasoning")))
    if fam not in THINKING_FAMILIES:
        raise bad(f"thinking is not supported by model {model_id}")
    return _thinking_switch(fam, model_id, thinking)


def _thinking_switch(fam: str, model_id: Any, thinking: Any) -> bool:
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "disabled") or set(thinking) - {"type", "keep"}:
        raise bad('thinking must be {"type": "enabled"|"disabled"}')
    # Preserved Thinking ("keep") exists on k2.6, and k2.7-code accepts "all" (section 2.2).
    if "keep" in thinking and (fam == "kimi-k2.5" or thinking["keep"] not in (None, "all")):
        raise bad(f"thinking.keep is not supported by model {model_id} with this value")
    if fam == "kimi-k2.7-code" and kind == "disabled":
        raise Rejection("invalid thinking: only type=enabled is allowed for this model")
    return bool(kind == "enabled")


def check_sampling(model: Obj, body: Obj, thinking: bool) -> None:
    """Fixed values on kimi-k2.5 and newer; ranges (temperature [0, 1], n <= 5) elsewhere."""
    for name in SAMPLING:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise bad(f"{name} must be a number")
    fam = family(str(model.get("id")))
    if fam in FIXED_FAMILIES:
        fixed = FIXED_SAMPLING | {"temperature": 1.0 if thinking else 0.6}
        for name, value in fixed.items():
            given = body.get(name)
            if given is not None and abs(given - value) > 1e-9:
                raise bad(f"{name} is fixed for this model, do not pass it")
        return
    _check_ranges(body, default_temperature=0.0 if fam == "moonshot-v1" else 0.6)


def _check_ranges(body: Obj, default_temperature: float) -> None:
    limits = {"temperature": (0.0, 1.0), "top_p": (0.0, 1.0)}
    limits |= {"presence_penalty": (-2.0, 2.0), "frequency_penalty": (-2.0, 2.0)}
    for name, (low, high) in limits.items():
        value = body.get(name)
        if value is not None and not low <= value <= high:
            raise bad(f"{name} must be in [{low:g}, {high:g}]")
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or not 1 <= n <= 5):
        raise bad("n must be an integer from 1 to 5")
    temperature = body.get("temperature")
    temperature = default_temperature if temperature is None else temperature
    if (n or 1) > 1 and temperature < 0.01:
        raise bad("n > 1 needs a temperature above 0")


def json_mode(body: Obj, model: Obj) -> tuple[bool, Obj | None]:
    """Whether `response_format` asks for JSON, and the schema of a `json_schema` format; partial
    mode may not be combined with either."""
    fmt = body.get("response_format")
    if fmt is None:
        return False, None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise bad("response_format.type must be text, json_object or json_schema")
    schema = _json_schema(fmt.get("json_schema"), model) if kind == "json_schema" else None
    if kind != "text" and body["messages"][-1].get("partial"):
        raise bad("partial mode cannot be combined with response_format json_object")
    return kind != "text", schema


def _json_schema(spec: Any, model: Obj) -> Obj:
    """The schema of a structured-output request, for the models that take one (section 2.2:
    kimi-k2.5 and newer; moonshot-v1 documents only json_object)."""
    if family(str(model.get("id"))) not in FIXED_FAMILIES:
        model_id = model.get("id")
        raise bad(
            f"response_format json_schema is not supported by model {model_id}; use json_object"
        )
    if not isinstance(spec, dict):
        raise bad("response_format json_schema needs a json_schema object")
    if not isinstance(spec.get("name"), str) or not spec["name"]:
        raise bad("response_format.json_schema.name is required")
    if not isinstance(spec.get("schema"), dict):
        raise bad("response_format.json_schema.schema must be a JSON Schema object")
    schema: Obj = spec["schema"]
    return schema


def stop_strings(body: Obj) -> tuple[str, ...]:
    """At most 5 stop strings of at most 32 bytes each."""
    stop = body.get("stop")
    items = [stop] if isinstance(stop, str) else stop if stop is not None else []
    if not isinstance(items, list) or len(items) > 5:
        raise bad("stop must be a string or a list of at most 5 strings")
    if any(not isinstance(s, str) or len(s.encode()) > 32 for s in items):
        raise bad("each stop string must be a string of at most 32 bytes")
    return tuple(s for s in items if s)


def max_tokens(body: Obj) -> int | None:
    """`max_completion_tokens`, else the deprecated `max_tokens` (both are accepted)."""
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is not None and (type(value) is not int or value < 1):
            raise bad(f"{name} must be a positive integer")
    chosen = body.get("max_completion_tokens")
    return body.get("max_tokens") if chosen is None else int(chosen)


def check_window(prompt: int, limit: int | None, model: Obj) -> None:
    """The two context-window errors of section 4 (the default max_tokens is not counted)."""
    window = model.get("context_length") or 0
    if not window:  # a catalogue entry without a window (legacy shape) sets no limit
        return
    if prompt > window:
        raise Rejection("Input token length too long")
    if limit is not None and prompt + limit > window:
        raise Rejection(f"Your request exceeded model token limit : {window}")


@dataclass(frozen=True)
class ChatRequest:
    """A chat completion request that passed every rule."""

    model: str
    messages: list[Obj]
    thinking: bool
    json_out: bool
    stop: tuple[str, ...]
    limit: int | None
    stream: bool
    include_usage: bool
    prompt_tokens: int
    tools: tuple[Obj, ...] = ()  # the `function` objects of the declared tools
    tool_choice: Any = None
    schema: Obj | None = None  # the json_schema of a structured-output request
    cache_key: str | None = None  # prompt_cache_key


def check_chat(body: Any, models: list[Obj], purposes: Mapping[str, str]) -> ChatRequest:
    """Every documented rule of `POST /v1/chat/completions`, in the order Kimi would meet them."""
    body = check_fields(body, CHAT_FIELDS)
    model = find_model(models, body.get("model"))
    messages = check_messages(body.get("messages"), model, purposes)
    thinking = thinking_on(model, body.get("thinking"), body.get("reasoning_effort"))
    check_sampling(model, body, thinking)
    tools = check_tools(body, model, thinking)
    (json_out, schema), stop, limit = json_mode(body, model), stop_strings(body), max_tokens(body)
    stream, include_usage = _stream_flags(body)
    cache_key = body.get("prompt_cache_key")
    if cache_key is not None and not isinstance(cache_key, str):
        raise bad("prompt_cache_key must be a string")
    # The declarations count toward the prompt's tokens (section 2.8).
    prompt = count_tokens(messages) + (text_tokens(json.dumps(body["tools"])) if tools else 0)
    check_window(prompt, limit, model)
    flags = (thinking, json_out, stop, limit, stream, include_usage, prompt)
    return ChatRequest(
        model["id"], messages, *flags, tools, body.get("tool_choice"), schema, cache_key
    )


def _stream_flags(body: Obj) -> tuple[bool, bool]:
    stream, options = body.get("stream"), body.get("stream_options")
    if stream is not None and not isinstance(stream, bool):
        raise bad("stream must be a boolean")
    include = options.get("include_usage") if isinstance(options, dict) else None
    if options is not None and not isinstance(include, bool | None):
        raise bad('stream_options must be {"include_usage": bool}')
    return bool(stream), bool(include)
