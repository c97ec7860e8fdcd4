"""Thread hand-offs per ask_kimi: each store call is one, so the path counts them."""

import pytest
from mcp import Client

from tests.store.hops import counted_hops, store_file
from tests.tool_results import ok

pytestmark = pytest.mark.anyio


async def test_a_continued_ask_enters_the_conversation_store_once_before_kimi_and_once_after(
    mcp_client: Client,
) -> None:
    """The load checks the store as `check` does (same write lock), so no separate check."""
    first = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "one"}))
    with counted_hops() as hops:
        arguments = {"prompt": "two", "conversation_id": first["conversation_id"]}
        ok(await mcp_client.call_tool("ask_kimi", arguments))
    conversation_hops = [hop for hop in hops if store_file(hop) == "conversations.sqlite3"]
    assert [hop.__name__ for hop in conversation_hops] == ["_select", "_append"]
