"""Answers a program can parse (json_schema, json_mode), kimi-k3's reasoning_effort and Kimi's
prompt cache, through ask_kimi against the emulator (issue 10)."""

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from kimi_mcp.emulator import Emulator
from tests.tool_results import chats, error_text, ok

pytestmark = pytest.mark.anyio

# Satisfied by the emulator's answer whatever way it builds one from a schema: {"answer": "..."}.
ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}
# The emulator's model answers a schema with a valid document unless the question says "break the
# schema" (then the first required property is missing), as a model past its limits might.
INTEGER_ANSWER: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
}
# Above 256 tokens, so the next turn can hit Kimi's (and the emulator's) prefix cache.
LONG_PROMPT = "Keep this context in mind for the questions that follow. " * 60


async def ask(client: Client, **arguments: Any) -> dict[str, Any]:
    return ok(await client.call_tool("ask_kimi", {"prompt": "give json"} | arguments))


# json_schema --------------------------------------------------------------------------------------


async def test_json_schema_answer_is_parsed_and_validated(
    mcp_client: Client, emulator: Emulator
) -> None:
    result = await ask(mcp_client, json_schema=ANSWER_SCHEMA, model="kimi-k2.6")
    assert result["json_error"] is None
    assert isinstance(result["json"], dict) and isinstance(result["json"]["answer"], str)
    sent = chats(emulator)[-1].json["response_format"]
    assert sent == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": ANSWER_SCHEMA, "strict": True},
    }


async def test_json_schema_answer_that_does_not_match_names_the_json_path(
    mcp_client: Client,
) -> None:
    prompt = "give json, but break the schema"
    result = await ask(mcp_client, prompt=prompt, json_schema=INTEGER_ANSWER, model="kimi-k3")
    assert result["json"] is None
    assert "'answer' is a required property" in result["json_error"]
    assert result["answer"]  # the billed answer is returned all the same


async def test_json_schema_answer_cut_by_max_tokens_says_it_was_cut(
    mcp_client: Client,
) -> None:
    result = await ask(
        mcp_client, json_schema=ANSWER_SCHEMA, max_tokens=3, thinking=False, model="kimi-k2.6"
    )
    assert result["truncated_reason"] == "length" and result["json"] is None
    assert "cut" in result["json_error"] and "max_tokens" in result["json_error"]


@pytest.mark.parametrize("model", ["moonshot-v1-8k", "kimi-k9-preview"])
async def test_json_schema_to_a_model_that_does_not_take_it_is_refused_before_sending(
    mcp_client: Client, emulator: Emulator, model: str
) -> None:
    emulator.models.append({"id": "kimi-k9-preview", "object": "model", "context_length": 8192})
    message = error_text(
        await mcp_client.call_tool(
            "ask_kimi", {"prompt": "x", "model": model, "json_schema": ANSWER_SCHEMA}
        )
    )
    assert model in message and "json_mode" in message and "kimi-k2.6" in message
    assert chats(emulator) == []


@pytest.mark.parametrize("other", [{"json_mode": True}, {"prefix": "{"}])
async def test_json_schema_with_json_mode_or_prefix_is_refused_before_sending(
    mcp_client: Client, emulator: Emulator, other: dict[str, Any]
) -> None:
    arguments = {"prompt": "x", "json_schema": ANSWER_SCHEMA} | other
    message = error_text(await mcp_client.call_tool("ask_kimi", arguments))
    assert f"json_schema and {next(iter(other))} cannot be combined" in message
    assert chats(emulator) == []


async def test_an_invalid_json_schema_is_refused_before_sending(
    mcp_client: Client, emulator: Emulator
) -> None:
    bad = {"type": "object", "properties": {"answer": {"type": "text"}}}
    message = error_text(
        await mcp_client.call_tool("ask_kimi", {"prompt": "x", "json_schema": bad})
    )
    assert "not a valid JSON Schema" in message and "$.properties.answer.type" in message
    assert "nothing was sent" in message and chats(emulator) == []


async def test_json_mode_answer_is_parsed_too(mcp_client: Client) -> None:
    result = await ask(mcp_client, json_mode=True)
    assert isinstance(result["json"], dict) and result["json_error"] is None


async def test_a_plain_answer_has_no_json_and_no_json_error(mcp_client: Client) -> None:
    result = await ask(mcp_client)
    assert result["json"] is None and result["json_error"] is None


# reasoning_effort -------------------------------------------------------------------------------


async def test_reasoning_effort_is_sent_to_kimi_k3_without_thinking(
    mcp_client: Client, emulator: Emulator
) -> None:
    result = await ask(mcp_client, model="kimi-k3", reasoning_effort="low")
    sent = chats(emulator)[-1].json
    assert sent["reasoning_effort"] == "low" and "thinking" not in sent
    assert result["cache_reset"] is False


@pytest.mark.parametrize("model", ["kimi-k2.6", "moonshot-v1-8k", "kimi-k2.7-code"])
async def test_reasoning_effort_for_another_model_is_refused_naming_kimi_k3(
    mcp_client: Client, emulator: Emulator, workdir: Path, model: str
) -> None:
    (workdir / "notes.txt").write_text("a document")
    arguments = {"prompt": "x", "model": model, "reasoning_effort": "high", "files": ["notes.txt"]}
    message = error_text(await mcp_client.call_tool("ask_kimi", arguments))
    assert model in message and "kimi-k3" in message
    # Refused before anything is sent: not even the document is uploaded.
    assert [r.path for r in emulator.requests if r.method == "POST"] == []


async def test_a_conversation_remembers_its_reasoning_effort(
    mcp_client: Client, emulator: Emulator
) -> None:
    first = await ask(mcp_client, model="kimi-k3", reasoning_effort="high")
    second = await ask(mcp_client, conversation_id=first["conversation_id"])
    assert [chat.json.get("reasoning_effort") for chat in chats(emulator)] == ["high", "high"]
    assert second["cache_reset"] is False


async def test_changing_reasoning_effort_mid_conversation_reports_cache_reset(
    mcp_client: Client, emulator: Emulator
) -> None:
    first = await ask(mcp_client, model="kimi-k3", reasoning_effort="high")
    conversation = first["conversation_id"]
    changed = await ask(mcp_client, conversation_id=conversation, reasoning_effort="low")
    kept = await ask(mcp_client, conversation_id=conversation)
    assert changed["cache_reset"] is True and kept["cache_reset"] is False
    assert [chat.json.get("reasoning_effort") for chat in chats(emulator)] == ["high", "low", "low"]


# prompt_cache_key -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "vouched"),
    [
        ("kimi-k2.5", True),
        ("kimi-k2.6", True),
        ("kimi-k2.7-code", True),
        ("kimi-k3", True),
        ("moonshot-v1-8k", False),
        ("kimi-k9-preview", False),
    ],
)
async def test_prompt_cache_key_is_the_conversation_id_only_where_vouched_for(
    mcp_client: Client, emulator: Emulator, model: str, vouched: bool
) -> None:
    emulator.models.append({"id": "kimi-k9-preview", "object": "model", "context_length": 8192})
    result = await ask(mcp_client, model=model)
    sent = chats(emulator)[-1].json
    assert sent.get("prompt_cache_key") == (result["conversation_id"] if vouched else None)


async def test_the_second_turn_of_a_conversation_reports_cached_tokens(
    mcp_client: Client, emulator: Emulator
) -> None:
    first = await ask(mcp_client, prompt=LONG_PROMPT, thinking=False)
    second = await ask(mcp_client, prompt="and now?", conversation_id=first["conversation_id"])
    keys = {chat.json["prompt_cache_key"] for chat in chats(emulator)}
    assert keys == {first["conversation_id"]}
    assert second["usage"]["cached_tokens"] > 0
