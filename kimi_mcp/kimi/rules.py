"""Kimi's per-model request rules; the model list has no fields for them, so a small family table.

Kimi answers 400 for fixed sampling parameters on kimi-k2.5 and newer, for `thinking` where a
model cannot switch, and for `reasoning_effort` outside kimi-k3 (kimi-api.md 2.2 and 3.2).
"""

from dataclasses import dataclass
from typing import Any, Literal

from kimi_mcp.errors import InputError
from kimi_mcp.kimi.types import ModelInfo

ThinkingControl = Literal["switch", "always", "never", "unknown"]


@dataclass(frozen=True)
class ModelRules:
    thinking: ThinkingControl
    sends_thinking_field: bool  # kimi-k2.x takes {"thinking": {"type": ...}}
    fixed_sampling: bool  # temperature, top_p, n and penalties must not be sent
    reasoning_effort: bool  # kimi-k3 only
    json_schema: bool  # response_format json_schema (structured output): kimi-k2.5 and newer
    prompt_cache_key: bool  # the 2026 field that keys Kimi's prompt cache to a session


_FAMILIES: tuple[tuple[str, ModelRules], ...] = (
    ("kimi-k2.7-code", ModelRules("always", True, True, False, True, True)),
    ("kimi-k2.5", ModelRules("switch", True, True, False, True, True)),
    ("kimi-k2.6", ModelRules("switch", True, True, False, True, True)),
    ("kimi-k3", ModelRules("always", False, True, True, True, True)),
    ("moonshot-v1", ModelRules("never", False, False, False, False, False)),
)
# An unknown id gets no optional field the table cannot vouch for.
_UNKNOWN = ModelRules("unknown", False, True, False, False, False)
EFFORT_MODEL = "kimi-k3"  # the family that takes reasoning_effort, named in refusals


def rules_for(model_id: str) -> ModelRules:
    for prefix, rules in _FAMILIES:
        if model_id.startswith(prefix):
            return rules
    return _UNKNOWN


def thinking_fields(model: ModelInfo, thinking: bool | None) -> dict[str, Any]:
    """The request fields that express `thinking` for this model, or an InputError."""
    rules = rules_for(model.id)
    if thinking is None:
        return {}
    if rules.thinking == "switch":
        return {"thinking": {"type": "enabled" if thinking else "disabled"}}
    always = rules.thinking == "always" or (
        rules.thinking == "unknown" and model.supports_reasoning
    )
    if always and thinking:
        return {}  # it thinks anyway; sending the field is either redundant or rejected
    if always:
        raise InputError(
            f"{model.id} always thinks and cannot turn thinking off. Omit 'thinking', or use "
            "a model that can switch it off (kimi-k2.6, kimi-k2.5)."
        )
    if thinking:
        raise InputError(
            f"{model.id} does not think (supports_reasoning is false). Omit 'thinking', or use a "
            "reasoning model from list_models such as kimi-k2.6."
        )
    return {}


def thinks(model: ModelInfo, thinking: bool | None) -> bool:
    """Whether a request with this `thinking` choice makes the model reason first."""
    rules = rules_for(model.id)
    if rules.thinking == "switch":
        return thinking is not False
    if rules.thinking == "unknown":
        return model.supports_reasoning
    return rules.thinking == "always"


def effort_fields(model_id: str, effort: str | None) -> dict[str, Any]:
    """`reasoning_effort` for kimi-k3 (never with `thinking`: k3 takes none), else an InputError."""
    if effort is None:
        return {}
    if not rules_for(model_id).reasoning_effort:
        raise InputError(
            f"{model_id} does not take reasoning_effort: only {EFFORT_MODEL} does. Omit "
            f"reasoning_effort, or ask model {EFFORT_MODEL}."
        )
    return {"reasoning_effort": effort}


def format_fields(
    model_id: str, *, json_mode: bool, json_schema: dict[str, Any] | None
) -> dict[str, Any]:
    """`response_format` for JSON mode or a JSON Schema (named "answer"), or an InputError."""
    if json_schema is None:
        return {"response_format": {"type": "json_object"}} if json_mode else {}
    if not rules_for(model_id).json_schema:
        raise InputError(
            f"{model_id} does not take json_schema (structured output is for kimi-k2.5 and "
            "newer). Use json_mode for a JSON object without a schema, or a model that takes "
            "json_schema, such as kimi-k2.6 or kimi-k3. Nothing was sent."
        )
    schema = {"name": "answer", "schema": json_schema, "strict": True}
    return {"response_format": {"type": "json_schema", "json_schema": schema}}


def chat_body(
    model: ModelInfo,
    messages: list[dict[str, Any]],
    *,
    thinking: bool | None,
    max_tokens: int | None,
    json_mode: bool,
    json_schema: dict[str, Any] | None = None,
    reasoning_effort: str | None = None,
    prompt_cache_key: str | None = None,
) -> dict[str, Any]:
    """A chat completions body that Kimi accepts for this model (never fixed sampling fields).

    `prompt_cache_key` is sent only to models the table vouches for; elsewhere it is dropped,
    since Kimi's automatic prefix cache works without it."""
    body: dict[str, Any] = {"model": model.id, "messages": messages, "stream": True}
    body.update(thinking_fields(model, thinking))
    body.update(effort_fields(model.id, reasoning_effort))
    if max_tokens is not None:
        body["max_completion_tokens"] = max_tokens
    body.update(format_fields(model.id, json_mode=json_mode, json_schema=json_schema))
    if prompt_cache_key is not None and rules_for(model.id).prompt_cache_key:
        body["prompt_cache_key"] = prompt_cache_key
    return body
