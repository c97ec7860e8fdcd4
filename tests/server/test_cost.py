"""ask_kimi's `cost`, through the in-memory MCP client against the emulator."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.server import build_server
from tests.conftest import CANARY_KEY, SweptClient
from tests.tool_results import ok

pytestmark = pytest.mark.anyio

K26 = {"input_cached": 0.16, "input": 0.95, "output": 4.00}  # kimi-api.md section 3


def _priced(usage: dict[str, int], price: dict[str, float]) -> dict[str, float]:
    cached = usage["cached_tokens"]
    return {
        "input_cached": cached * price["input_cached"] / 1e6,
        "input": (usage["prompt_tokens"] - cached) * price["input"] / 1e6,
        "output": usage["completion_tokens"] * price["output"] / 1e6,
        "tools": 0.0,
    }


def _assert_cost(result: dict[str, Any], price: dict[str, float], currency: str) -> None:
    cost, expected = result["cost"], _priced(result["usage"], price)
    assert cost["estimated"] is True and cost["currency"] == currency
    assert cost["breakdown"] == pytest.approx(expected)
    assert cost["amount"] == pytest.approx(sum(expected.values()))
    assert cost["amount"] > 0 and result["cost_note"] is None


@asynccontextmanager
async def _client_with(settings: Settings, **more: Any) -> AsyncIterator[Client]:
    """A server on the same emulator with `more` settings."""
    changed = load_settings(
        api_key=CANARY_KEY, base_url=settings.base_url, allowed_dirs=settings.allowed_dirs, **more
    )
    async with SweptClient(build_server(changed)) as client:
        yield client


async def test_ask_kimi_reports_its_estimated_cost_from_kimis_usage(mcp_client: Client) -> None:
    result = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "echo cost please"}))
    _assert_cost(result, K26, "USD")


async def test_cached_prompt_tokens_are_priced_at_the_cache_hit_price(mcp_client: Client) -> None:
    system = "Answer in the manner of a careful reviewer. " * 40  # over Kimi's 256-token floor
    first = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "one", "system": system}))
    args = {"prompt": "two", "conversation_id": first["conversation_id"]}
    second = ok(await mcp_client.call_tool("ask_kimi", args))
    assert second["usage"]["cached_tokens"] > 0
    _assert_cost(second, K26, "USD")
    assert second["cost"]["breakdown"]["input_cached"] > 0


async def test_model_without_a_price_has_null_cost_with_a_reason(mcp_client: Client) -> None:
    result = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "hi", "model": "kimi-k2.7-code"}))
    assert result["usage"] is not None and result["cost"] is None
    assert '[prices."kimi-k2.7-code"]' in result["cost_note"]


async def test_price_from_the_config_file_prices_a_model_the_table_lacks(
    settings: Settings,
) -> None:
    price = {"input_cached": 0.5, "input": 1.5, "output": 6.0}
    async with _client_with(settings, prices={"kimi-k2.7-code": price}) as client:
        args = {"prompt": "hi", "model": "kimi-k2.7-code"}
        _assert_cost(ok(await client.call_tool("ask_kimi", args)), price, "USD")


async def test_china_platform_has_no_cost_unless_the_config_prices_it_in_cny(
    settings: Settings,
) -> None:
    price = {"input_cached": 1.0, "input": 4.0, "output": 16.0}
    async with _client_with(settings, region="china", prices={"kimi-k3": price}) as client:
        unpriced = ok(await client.call_tool("ask_kimi", {"prompt": "hi"}))
        assert unpriced["cost"] is None and "no CNY prices" in unpriced["cost_note"]
        priced = ok(await client.call_tool("ask_kimi", {"prompt": "hi", "model": "kimi-k3"}))
        _assert_cost(priced, price, "CNY")


async def test_cut_answer_without_usage_has_null_cost_saying_why(
    mcp_client: Client, emulator: Emulator
) -> None:
    emulator.inject(Fault("cut_stream", after_chunks=1))
    result = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "echo a long answer " * 5}))
    assert result["truncated"] is True and result["usage"] is None
    assert result["cost"] is None and "usage" in result["cost_note"]


async def test_cost_is_described_in_ask_kimis_output_schema(mcp_client: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp_client.list_tools()).tools}
    schema = tools["ask_kimi"].output_schema
    # Named in `required`: the compact schema types only the fields that need words (issue 13).
    assert schema is not None and {"cost", "cost_note"} <= set(schema["required"])


# Spend per UTC day -------------------------------------------------------------------------------


async def test_check_balance_adds_what_this_server_spent_today(mcp_client: Client) -> None:
    before = ok(await mcp_client.call_tool("check_balance", {}))
    assert before["spent_today"] == 0 and before["currency"] == "USD"
    first = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "one"}))
    second = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "two", "model": "kimi-k3"}))
    unpriced = ok(
        await mcp_client.call_tool("ask_kimi", {"prompt": "three", "model": "kimi-k2.7-code"})
    )
    assert unpriced["cost"] is None
    after = ok(await mcp_client.call_tool("check_balance", {}))
    expected = first["cost"]["amount"] + second["cost"]["amount"]
    assert after["spent_today"] == pytest.approx(expected)


async def test_spend_that_cannot_be_recorded_costs_the_caller_no_answer(
    mcp_client: Client, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "spend.sqlite3").write_bytes(b"someone else's file" * 64)
    result = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "echo kept"}))
    assert "kept" in result["answer"] and result["cost"]["amount"] > 0
    assert "spend of a kimi-k2.6 call not recorded" in caplog.text
