"""What Kimi reports when it stops an answer early, through ask_kimi: an `{"error": ...}` event
after some text keeps the billed partial answer (returned and stored, marked truncated) and says
what Kimi reported in `upstream_error`; so does a malformed chunk after text."""

import json
from typing import Any

import pytest
from mcp import Client

from kimi_mcp.emulator import Emulator, Fault
from tests.raw_sse import DONE, HELLO, ROLE, SSE, STRING_DELTA
from tests.tool_results import chats, ok

pytestmark = pytest.mark.anyio

REPLY = "A long answer that Kimi streams in several chunks, " * 6
OVERLOADED = "The engine is currently overloaded, please try again later"
HIGH_RISK = "The request was rejected because it was considered high risk"
ASK = {"prompt": "the question", "thinking": False}


async def stored_turns(client: Client, conversation_id: str) -> list[dict[str, Any]]:
    shown = await client.read_resource(f"kimi://conversations/{conversation_id}")
    turns: list[dict[str, Any]] = json.loads(
        "".join(getattr(c, "text", "") for c in shown.contents)
    )["turns"]
    return turns


@pytest.mark.parametrize(
    ("error_type", "message", "reason"),
    [
        ("engine_overloaded_error", OVERLOADED, "stream_cut"),
        ("server_error", "Emulated server error", "stream_cut"),
        ("content_filter", HIGH_RISK, "content_filter"),
    ],
)
async def test_an_error_event_after_text_keeps_the_billed_partial_answer(
    mcp_client: Client, emulator: Emulator, error_type: str, message: str, reason: str
) -> None:
    emulator.reply = lambda _messages: REPLY
    emulator.inject(Fault("stream_error", after_chunks=3, error_type=error_type, message=message))
    result = ok(await mcp_client.call_tool("ask_kimi", ASK))
    partial = REPLY[: 3 * emulator.chunk_chars]
    assert result["answer"] == partial
    assert result["truncated"] is True and result["truncated_reason"] == reason
    assert result["upstream_error"] == f"{error_type}: {message}"
    assert result["stored"] is True
    turns = await stored_turns(mcp_client, result["conversation_id"])
    assert [(t["role"], t["content"]) for t in turns] == [
        ("user", "the question"),
        ("assistant", partial),
    ]
    assert len(chats(emulator)) == 1  # never asked again: the partial answer was billed


async def test_a_malformed_chunk_after_text_says_why_in_upstream_error(
    mcp_client: Client, emulator: Emulator
) -> None:
    emulator.inject(Fault("raw", status=200, body=ROLE + HELLO + STRING_DELTA + DONE, headers=SSE))
    result = ok(await mcp_client.call_tool("ask_kimi", ASK))
    assert result["answer"] == "Hello " and result["truncated_reason"] == "upstream_malformed"
    assert "malformed stream chunk" in result["upstream_error"]


async def test_a_complete_answer_has_no_upstream_error(
    mcp_client: Client, emulator: Emulator
) -> None:
    result = ok(await mcp_client.call_tool("ask_kimi", ASK))
    assert result["truncated"] is False and result["upstream_error"] is None
