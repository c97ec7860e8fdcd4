"""Kimi's per-model request rules: what each model family is sent, and what we refuse."""

import pytest

from kimi_mcp.errors import InputError
from kimi_mcp.kimi.rules import chat_body, thinks
from kimi_mcp.kimi.types import ModelInfo

SAMPLING = {"temperature", "top_p", "n", "presence_penalty", "frequency_penalty"}


def model(model_id: str, reasoning: bool = True) -> ModelInfo:
    return ModelInfo(id=model_id, context_length=262144, supports_reasoning=reasoning)


def body(model_id: str, thinking: bool | None, reasoning: bool = True) -> dict[str, object]:
    return chat_body(
        model(model_id, reasoning),
        [{"role": "user", "content": "hi"}],
        thinking=thinking,
        max_tokens=None,
        json_mode=False,
    )


@pytest.mark.parametrize(
    ("model_id", "thinking", "expected"),
    [
        ("kimi-k2.6", True, {"type": "enabled"}),
        ("kimi-k2.6", False, {"type": "disabled"}),
        ("kimi-k2.5", False, {"type": "disabled"}),
        ("kimi-k2.6", None, None),
        ("kimi-k2.7-code", True, None),
        ("kimi-k2.7-code-highspeed", None, None),
        ("kimi-k3", True, None),
        ("kimi-k3", None, None),
        ("moonshot-v1-128k", False, None),
        ("some-new-model", True, None),
    ],
)
def test_thinking_field_only_where_the_model_takes_it(
    model_id: str, thinking: bool | None, expected: dict[str, str] | None
) -> None:
    sent = body(model_id, thinking)
    assert sent.get("thinking") == expected
    assert "reasoning_effort" not in sent
    assert not SAMPLING & set(sent)


@pytest.mark.parametrize(
    ("model_id", "thinking", "reasoning", "says"),
    [
        ("kimi-k3", False, True, "always thinks"),
        ("kimi-k2.7-code", False, True, "always thinks"),
        ("moonshot-v1-8k", True, False, "does not think"),
        ("some-new-model", True, False, "does not think"),
    ],
)
def test_a_request_that_contradicts_the_model_is_refused_clearly(
    model_id: str, thinking: bool, reasoning: bool, says: str
) -> None:
    with pytest.raises(InputError, match=says):
        body(model_id, thinking, reasoning)


def test_max_tokens_json_mode_and_streaming_fields() -> None:
    sent = chat_body(
        model("kimi-k2.6"),
        [{"role": "user", "content": "hi"}],
        thinking=None,
        max_tokens=99,
        json_mode=True,
    )
    assert sent["max_completion_tokens"] == 99
    assert sent["response_format"] == {"type": "json_object"}
    assert sent["stream"] is True


@pytest.mark.parametrize(
    ("model_id", "thinking", "reasoning", "expected"),
    [
        ("kimi-k2.6", None, True, True),
        ("kimi-k2.6", False, True, False),
        ("kimi-k3", None, True, True),
        ("moonshot-v1-8k", None, False, False),
        ("unknown", None, True, True),
    ],
)
def test_whether_a_request_makes_the_model_think(
    model_id: str, thinking: bool | None, reasoning: bool, expected: bool
) -> None:
    assert thinks(model(model_id, reasoning), thinking) is expected


# Issue 10: structured output, kimi-k3's effort and the prompt cache key ---------------------------

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}}


def issue10_body(model_id: str, **fields: object) -> dict[str, object]:
    return chat_body(
        model(model_id),
        [{"role": "user", "content": "hi"}],
        thinking=None,
        max_tokens=None,
        json_mode=False,
        **fields,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("model_id", ["kimi-k2.5", "kimi-k2.6", "kimi-k2.7-code", "kimi-k3"])
def test_json_schema_goes_to_models_that_take_it_as_structured_output(model_id: str) -> None:
    sent = issue10_body(model_id, json_schema=SCHEMA)
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True},
    }


@pytest.mark.parametrize("model_id", ["moonshot-v1-8k", "some-new-model"])
def test_json_schema_to_a_model_that_does_not_take_it_is_refused(model_id: str) -> None:
    with pytest.raises(InputError, match="does not take json_schema") as caught:
        issue10_body(model_id, json_schema=SCHEMA)
    assert "json_mode" in str(caught.value) and model_id in str(caught.value)


def test_reasoning_effort_goes_to_kimi_k3_alone_and_never_with_thinking() -> None:
    sent = issue10_body("kimi-k3", reasoning_effort="max")
    assert sent["reasoning_effort"] == "max" and "thinking" not in sent
    for other in ("kimi-k2.6", "kimi-k2.7-code", "moonshot-v1-8k", "some-new-model"):
        with pytest.raises(InputError, match=f"{other} does not take reasoning_effort.*kimi-k3"):
            issue10_body(other, reasoning_effort="max")


@pytest.mark.parametrize(
    ("model_id", "sent"),
    [
        ("kimi-k2.5", True),
        ("kimi-k2.6", True),
        ("kimi-k2.7-code-highspeed", True),
        ("kimi-k3", True),
        ("moonshot-v1-8k", False),
        ("some-new-model", False),
    ],
)
def test_prompt_cache_key_only_where_the_table_vouches_for_it(model_id: str, sent: bool) -> None:
    body = issue10_body(model_id, prompt_cache_key="conv_1")
    assert body.get("prompt_cache_key") == ("conv_1" if sent else None)
