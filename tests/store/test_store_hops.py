"""Thread hand-offs per ask_kimi: each store call is one, so the path counts them."""

import pytest
from mcp import Client

from tests.store.hops import counted_hops, store_file
from tests.tool_results import ok

pytestmark = pytest.mark.anyio


async def test_a_continued_ask_enters_the_conversation_store_once_before_kimi_and_once_after(
    mcp_client: Client,
) -> None:
    """The load checks the store as `check` does (same write lock), so no separate check; after
    the answer, the turns, the token counts and the spend are written in one hop (they were a
    hop each: the answer waited for three)."""
    first = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "one"}))
    with counted_hops() as hops:
        arguments = {"prompt": "two", "conversation_id": first["conversation_id"]}
        second = ok(await mcp_client.call_tool("ask_kimi", arguments))
    after = "conversations.sqlite3+token_counts.sqlite3+spend.sqlite3"
    assert [store_file(hop) for hop in hops] == ["conversations.sqlite3", after]
    assert second["stored"] is True and second["cost"]["amount"] > 0
    balance = ok(await mcp_client.call_tool("check_balance", {}))
    spent = first["cost"]["amount"] + second["cost"]["amount"]
    assert balance["spent_today"] == pytest.approx(spent)
