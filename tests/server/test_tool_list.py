"""A start-up lists the tools from a checked-in snapshot (`tool_list.json`) and imports the real
tools on the first call (issue 13: cold start): what it lists must be what the real tools
compact to, for every set of tools the settings can offer."""

import json
from typing import Any

import pytest
from mcp import Client
from mcp.types import Tool

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.server import build_server
from kimi_mcp.server.compact_schemas import CompactToolsServer
from kimi_mcp.server.tool_snapshot import REWRITE

pytestmark = pytest.mark.anyio

CHOICES: list[dict[str, Any]] = [
    {},  # every tool
    {"tools": ["ask_kimi"]},
    {"tools": ["delete_conversation", "ask_kimi", "upload_file", "web_search"]},
    {"kimi_tools_allowed": ["fetch", "date"]},  # web_search withheld: it could only refuse
]


def _wire(tools: list[Tool]) -> str:
    wire = [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in tools]
    return json.dumps(wire, indent=1)


async def _listed_before_and_after_registering(settings: Settings) -> tuple[str, str]:
    """tools/list as the server answers it, and what the tools compact to once it has
    registered them all (each call registers its own tool)."""
    server = build_server(settings)
    async with Client(server) as client:
        served = await server.list_tools()
        assert (await client.list_tools()).tools  # the same list, on the wire
        assert not server._tool_manager.list_tools()  # listed without building a tool
        server.tools_registered()
        live = await CompactToolsServer.list_tools(server)
        assert await server.list_tools() == served  # and the same list after registering
    return _wire(served), _wire(live)


@pytest.mark.parametrize("choice", CHOICES, ids=lambda choice: str(choice) or "every tool")
async def test_the_snapshot_lists_what_the_real_tools_compact_to(
    settings: Settings, choice: dict[str, Any]
) -> None:
    chosen = load_settings(api_key=settings.api_key, base_url=settings.base_url, **choice)
    from_snapshot, live = await _listed_before_and_after_registering(chosen)
    assert from_snapshot == live, f"tool_list.json is out of date: run `{REWRITE}`"


async def test_the_snapshot_follows_kimi_mcp_tools(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIMI_MCP_TOOLS", "check_balance,list_models")
    chosen = load_settings(api_key=settings.api_key, base_url=settings.base_url)
    from_snapshot, live = await _listed_before_and_after_registering(chosen)
    assert from_snapshot == live, f"tool_list.json is out of date: run `{REWRITE}`"
    assert [tool["name"] for tool in json.loads(live)] == ["list_models", "check_balance"]


async def test_a_call_registers_its_own_tool_only(settings: Settings) -> None:
    """Registering a tool builds its pydantic models and schemas: the first call pays for its
    own tool, not for all eleven."""
    server = build_server(settings)
    async with Client(server) as client:
        listing = await client.call_tool("list_conversations", {})
        refused = await client.call_tool("delete_conversation", {"conversation": "x"})
        after = (await client.list_tools()).tools
    assert not listing.is_error and refused.is_error  # an unknown argument is still refused
    registered = [tool.name for tool in server._tool_manager.list_tools()]
    assert registered == ["list_conversations", "delete_conversation"]
    assert len(after) == 11
