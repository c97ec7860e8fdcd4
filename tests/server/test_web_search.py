"""The web_search tool: the tool loop with only Kimi's web-search formula, through the MCP client
against the emulator (whose model searches the whole question under a search system prompt)."""

from typing import Any

import pytest
from mcp import Client

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.emulator import Emulator
from kimi_mcp.server import build_server
from tests.conftest import CANARY_KEY, SweptClient
from tests.tool_results import chats, ok

pytestmark = pytest.mark.anyio


async def test_web_search_answers_with_sources_searches_usage_and_cost(
    mcp_client: Client, emulator: Emulator
) -> None:
    result = ok(await mcp_client.call_tool("web_search", {"query": "latest python release"}))
    assert result["sources"][0] == {
        "url": "https://example.com/search/latest-python-release",
        "title": "latest python release",
    }
    assert result["searches"] == 1 and result["truncated_reason"] is None
    assert result["usage"]["prompt_tokens"] > 0
    assert result["cost"]["breakdown"]["tools"] == pytest.approx(0.005)
    first = chats(emulator)[0].json
    assert [t["function"]["name"] for t in first["tools"]] == ["web_search"]
    assert "Cite every fact" in first["messages"][0]["content"]


async def test_web_search_is_a_one_off_not_a_conversation(mcp_client: Client) -> None:
    ok(await mcp_client.call_tool("web_search", {"query": "kimi k3"}))
    listed = ok(await mcp_client.call_tool("list_conversations", {}))
    assert listed["conversations"] == []


async def test_classes_reach_the_model_and_a_bad_class_is_refused(
    mcp_client: Client, emulator: Emulator
) -> None:
    args: dict[str, Any] = {"query": "cats", "classes": ["academic", "library"]}
    ok(await mcp_client.call_tool("web_search", args))
    assert "classes: academic, library" in chats(emulator)[0].json["messages"][-1]["content"]
    emulator.reset()
    refused = await mcp_client.call_tool("web_search", {"query": "cats", "classes": ["news"]})
    assert refused.is_error and emulator.requests == []


async def test_web_search_is_not_offered_when_the_operator_forbids_searching(
    settings: Settings,
) -> None:
    forbidding = load_settings(
        api_key=CANARY_KEY,
        base_url=settings.base_url,
        allowed_dirs=settings.allowed_dirs,
        kimi_tools_allowed=["fetch"],
    )
    async with SweptClient(build_server(forbidding)) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "web_search" not in names and "ask_kimi" in names


async def test_web_search_counts_toward_the_daily_cap_and_is_refused_past_it(
    settings: Settings, emulator: Emulator
) -> None:
    capped = load_settings(
        api_key=CANARY_KEY,
        base_url=settings.base_url,
        allowed_dirs=settings.allowed_dirs,
        daily_spend_cap=0.001,  # under one search
    )
    async with SweptClient(build_server(capped)) as client:
        ok(await client.call_tool("web_search", {"query": "first"}))
        emulator.reset()
        refused = await client.call_tool("web_search", {"query": "second"})
        spent = ok(await client.call_tool("check_balance", {}))["spent_today"]
    assert refused.is_error and "daily_spend_cap" in str(refused.content)
    assert spent > 0.005 and chats(emulator) == []
