"""Tool arguments holding file ids follow the client's rule (kimi.paths): a hostile id is a clear
input error and nothing at all is sent to Kimi (before, `file_ids` of ask_kimi and
estimate_tokens went into a GET path carrying the account key)."""

from typing import Any

import pytest
from mcp import Client

from kimi_mcp.emulator import Emulator
from tests.tool_results import error_text

pytestmark = pytest.mark.anyio

HOSTILE = "x/../../../../admin?"


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("ask_kimi", {"prompt": "hi", "file_ids": [HOSTILE]}),
        ("ask_kimi", {"prompt": "hi", "file_ids": ["co3t989kqq4ua4e78urg", ".."]}),
        ("estimate_tokens", {"text": "hi", "file_ids": [HOSTILE]}),
        ("estimate_tokens", {"file_ids": [".."]}),
        ("ask_kimi", {"prompt": "hi", "images": [f"ms://{HOSTILE}"]}),
        ("ask_kimi", {"prompt": "hi", "images": ["ms://.."]}),
    ],
    ids=["ask-traversal", "ask-dot-dot", "estimate-traversal", "estimate-dot-dot", "ms", "ms-dots"],
)
async def test_hostile_file_ids_send_nothing_and_say_what_an_id_looks_like(
    mcp_client: Client, emulator: Emulator, tool: str, arguments: dict[str, Any]
) -> None:
    message = error_text(await mcp_client.call_tool(tool, arguments))
    assert "file id is 1 to 128 letters, digits, '_', '-' or '.'" in message
    assert emulator.requests == []


@pytest.mark.parametrize("tool", ["read_file", "delete_file"])
async def test_dot_segments_as_a_file_id_send_nothing(
    mcp_client: Client, emulator: Emulator, tool: str
) -> None:
    """The schema pattern of read_file and delete_file once let '..' through."""
    error_text(await mcp_client.call_tool(tool, {"file_id": ".."}))
    assert emulator.requests == []
