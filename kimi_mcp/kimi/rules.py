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


_FAMILIES: tuple[tuple[str, ModelRules], ...] = (
    ("kimi-k2.7-code", ModelRules("always", True, True, False)),
    ("kimi-k2.5", ModelRules("switch", True, True, False)),
    ("kimi-k2.6", ModelRules("switch", True, True, False)),
    ("kimi-k3", ModelRules("always", False, True, True)),
    ("moonshot-v1", ModelRules("never", False, False, False)),
)
# An unknown id gets no optional field the table cannot vouch for.
_UNKNOWN = ModelRules("unknown", False, True, False)


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


def chat_body(
    model: ModelInfo,
    messages: list[dict[str, Any]],
    *,
    thinking: bool | None,
    max_tokens: int | None,
    json_mode: bool,
) -> dict[str, Any]:
    """A chat completions body that Kimi accepts for this model (never fixed sampling fields)."""
    body: dict[str, Any] = {"model": model.id, "messages": messages, "stream": True}
    body.update(thinking_fields(model, thinking))
    if max_tokens is not None:
        body["max_completion_tokens"] = max_tokens
    if json_mode:
        body["response_format"] = {"type": "json_object"}
    return body
