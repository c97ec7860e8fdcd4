"""Malformed upstream chunks through ask_kimi: the answer streamed so far is returned, marked
truncated (upstream_malformed); with nothing streamed, the error says Kimi sent a malformed chunk,
never "a kimi-mcp bug"."""

import pytest
from mcp import Client

from kimi_mcp.emulator import Emulator, Fault
from tests.raw_sse import DONE, HELLO, ROLE, SSE, STOP, STRING_DELTA, event
from tests.tool_results import chats, error_text, ok

pytestmark = pytest.mark.anyio


async def test_a_malformed_chunk_keeps_the_answer_streamed_before_it(
    mcp_client: Client, emulator: Emulator
) -> None:
    body = ROLE + HELLO + STRING_DELTA + event({"content": "lost"}) + DONE
    emulator.inject(Fault("raw", status=200, body=body, headers=SSE))
    result = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "hi"}))
    assert result["answer"] == "Hello "
    assert result["truncated"] is True and result["truncated_reason"] == "upstream_malformed"
    assert len(chats(emulator)) == 1


async def test_a_malformed_chunk_before_any_text_is_kimis_fault_not_ours(
    mcp_client: Client, emulator: Emulator
) -> None:
    emulator.inject(Fault("raw", status=200, body=ROLE + STRING_DELTA + DONE, headers=SSE))
    message = error_text(await mcp_client.call_tool("ask_kimi", {"prompt": "hi"}))
    assert "Kimi sent a malformed stream chunk" in message
    assert "failed unexpectedly" not in message and "report" not in message


async def test_a_bom_and_a_split_surrogate_pair_give_a_complete_answer(
    mcp_client: Client, emulator: Emulator
) -> None:
    body = "\ufeff" + HELLO + event({"content": "\ud83d"}) + event({"content": "\ude00"})
    emulator.inject(Fault("raw", status=200, body=body + STOP + DONE, headers=SSE))
    result = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "hi"}))
    assert result["answer"] == "Hello \U0001f600" and result["truncated"] is False
