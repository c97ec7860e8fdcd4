"""daily_spend_cap through the in-memory MCP client against the emulator: refused before anything
is sent, with what the user needs to decide; calls under it proceed; calls racing near it are all
counted; `spent_today` is the figure the cap compares.

The clock-dependent parts (the reset time near midnight, the day turning) are in
tests/ask/test_spend_cap.py, where the meter's clock can be injected.
"""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from kimi_mcp.__main__ import main
from kimi_mcp.config import Settings, default_config_path, load_settings
from kimi_mcp.emulator import Emulator
from kimi_mcp.server import build_server
from kimi_mcp.store.spend import Spend
from kimi_mcp.store.sqlite_spend import SqliteSpendLedger
from tests.conftest import CANARY_KEY, SweptClient
from tests.tool_results import chats, error_text, ok

pytestmark = pytest.mark.anyio

TINY_CAP = 1e-9  # any answer costs more: the first call starts under it, the second is refused


@asynccontextmanager
async def _capped(
    settings: Settings, transport: httpx2.AsyncBaseTransport | None = None, **more: Any
) -> AsyncIterator[Client]:
    """A server on the test's emulator and data_dir with `more` settings (the cap among them)."""
    changed = load_settings(
        api_key=CANARY_KEY,
        base_url=settings.base_url,
        allowed_dirs=settings.allowed_dirs,
        data_dir=settings.data_dir,
        **more,
    )
    async with SweptClient(build_server(changed, transport=transport)) as client:
        yield client


async def _spend_already(settings: Settings, amount: float) -> None:
    """Today's ledger as if earlier calls of this server had cost `amount` USD."""
    ledger = SqliteSpendLedger(settings.data_dir / "spend.sqlite3")
    try:
        await ledger.record(datetime.now(UTC).date().isoformat(), "USD", Spend(amount))
    finally:
        await ledger.aclose()


def _quoted_spend(message: str) -> float:
    found = re.search(r"spend of this server is ([0-9.]+) USD", message)
    assert found, message
    return float(found.group(1))


async def test_cap_reached_refuses_ask_kimi_before_anything_is_sent(
    settings: Settings, emulator: Emulator
) -> None:
    async with _capped(settings, daily_spend_cap=TINY_CAP) as client:
        first = ok(await client.call_tool("ask_kimi", {"prompt": "echo one"}))
        sent = len(emulator.requests)
        result = await client.call_tool("ask_kimi", {"prompt": "echo two"})
    message = error_text(result)
    assert len(emulator.requests) == sent, "a refused call sent something to Kimi"
    assert len(chats(emulator)) == 1
    assert _quoted_spend(message) == pytest.approx(first["cost"]["amount"], abs=1e-4)
    assert "daily_spend_cap (1e-09 USD)" in message
    assert "nothing was sent to Kimi" in message
    assert "00:00 UTC" in message and re.search(r"in (\d+ h )?\d+ min", message)
    assert "KIMI_MCP_DAILY_SPEND_CAP" in message and "restart" in message


async def test_cap_refusal_is_a_clean_tool_error_not_a_crash(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with _capped(settings, daily_spend_cap=TINY_CAP) as client:
        ok(await client.call_tool("ask_kimi", {"prompt": "echo one"}))
        result = await client.call_tool("ask_kimi", {"prompt": "echo two"})
        balance = ok(await client.call_tool("check_balance", {}))  # the server serves on
    message = error_text(result)
    assert result.structured_content is None
    assert "daily_spend_cap" in message
    assert "unexpectedly" not in message and "report it" not in message
    assert "crashed" not in caplog.text and "kimi-mcp bug" not in caplog.text
    assert balance["spent_today"] > TINY_CAP


async def test_calls_under_the_cap_proceed(settings: Settings, emulator: Emulator) -> None:
    async with _capped(settings, daily_spend_cap=5.0) as client:
        for prompt in ("echo one", "echo two", "echo three"):
            assert ok(await client.call_tool("ask_kimi", {"prompt": prompt}))["cost"]["amount"] > 0
    assert len(chats(emulator)) == 3


async def test_cap_from_the_environment_refuses_once_reached(
    settings: Settings, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIMI_MCP_DAILY_SPEND_CAP", "1e-9")
    async with _capped(settings) as client:
        ok(await client.call_tool("ask_kimi", {"prompt": "echo one"}))
        message = error_text(await client.call_tool("ask_kimi", {"prompt": "echo two"}))
    assert "daily_spend_cap (1e-09 USD)" in message and len(chats(emulator)) == 1


async def test_cap_from_the_config_file_refuses_once_reached(
    settings: Settings, emulator: Emulator
) -> None:
    path = default_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("daily_spend_cap = 0.5\n", encoding="utf-8")
    await _spend_already(settings, 0.5)
    async with _capped(settings) as client:
        message = error_text(await client.call_tool("ask_kimi", {"prompt": "echo one"}))
    assert "0.5000 USD" in message and "daily_spend_cap (0.5 USD)" in message
    assert chats(emulator) == []


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_daily_spend_cap_not_above_zero_stops_start_up_saying_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    monkeypatch.setenv("KIMI_MCP_DAILY_SPEND_CAP", value)
    with pytest.raises(SystemExit) as stopped:
        main([])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "daily_spend_cap" in err and "above 0" in err
    assert "leave it unset for no cap" in err


class MeetingPoint(httpx2.AsyncBaseTransport):
    """Chat requests wait here until `parties` of them have arrived, then all go on together:
    every call has passed its cap check and is in flight at once, however the tasks interleave."""

    def __init__(self, parties: int) -> None:
        self._inner = httpx2.AsyncHTTPTransport()
        self._parties, self._arrived = parties, 0
        self._all_here = anyio.Event()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/chat/completions") and not self._all_here.is_set():
            self._arrived += 1
            if self._arrived == self._parties:
                self._all_here.set()
            await self._all_here.wait()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_two_calls_racing_near_the_cap_both_finish_and_count(
    settings: Settings, emulator: Emulator
) -> None:
    cap = 1.0
    await _spend_already(settings, cap - 1e-7)  # just under: each answer costs ~1e-5 USD
    results: list[dict[str, Any]] = []

    async def ask(client: Client, prompt: str) -> None:
        results.append(ok(await client.call_tool("ask_kimi", {"prompt": prompt})))

    async with _capped(settings, MeetingPoint(2), daily_spend_cap=cap) as client:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(ask, client, "echo racing one")
                group.start_soon(ask, client, "echo racing two")
        balance = ok(await client.call_tool("check_balance", {}))
        refused = error_text(await client.call_tool("ask_kimi", {"prompt": "echo three"}))
    assert emulator.peak_streams == 2, "the two answers were not in flight at once"
    assert len(chats(emulator)) == 2
    expected = cap - 1e-7 + sum(result["cost"]["amount"] for result in results)
    assert balance["spent_today"] == pytest.approx(expected, abs=1e-9)
    assert balance["spent_today"] > cap  # over the cap, as the README says it may end
    assert _quoted_spend(refused) == pytest.approx(balance["spent_today"], abs=1e-4)


async def test_spent_today_is_the_figure_the_cap_refuses_on(settings: Settings) -> None:
    async with _capped(settings, daily_spend_cap=TINY_CAP) as client:
        before = ok(await client.call_tool("check_balance", {}))
        first = ok(await client.call_tool("ask_kimi", {"prompt": "echo one"}))
        after = ok(await client.call_tool("check_balance", {}))
        refused = error_text(await client.call_tool("ask_kimi", {"prompt": "echo two"}))
    assert before["spent_today"] == 0 and before["spent_today"] < TINY_CAP
    assert after["spent_today"] == pytest.approx(first["cost"]["amount"])
    assert _quoted_spend(refused) == pytest.approx(after["spent_today"], abs=1e-4)


async def test_unpriced_call_under_a_cap_says_the_cap_cannot_count_it(
    settings: Settings, emulator: Emulator
) -> None:
    async with _capped(settings, daily_spend_cap=TINY_CAP) as client:
        args = {"prompt": "echo hi", "model": "kimi-k2.7-code"}
        unpriced = ok(await client.call_tool("ask_kimi", args))
        again = ok(await client.call_tool("ask_kimi", args))
        balance = ok(await client.call_tool("check_balance", {}))
    assert unpriced["cost"] is None and again["cost"] is None
    for result in (unpriced, again):
        assert '[prices."kimi-k2.7-code"]' in result["cost_note"]
        assert "daily_spend_cap cannot count this call" in result["cost_note"]
    assert balance["spent_today"] == 0 and len(chats(emulator)) == 2


async def test_unpriced_call_without_a_cap_does_not_mention_one(settings: Settings) -> None:
    async with _capped(settings) as client:
        args = {"prompt": "echo hi", "model": "kimi-k2.7-code"}
        result = ok(await client.call_tool("ask_kimi", args))
    assert "daily_spend_cap" not in result["cost_note"]


async def test_cap_on_a_platform_without_prices_warns_at_start_up(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with _capped(settings, region="china", daily_spend_cap=5.0) as client:
        await client.list_tools()
    warnings = [
        r
        for r in caplog.records
        if r.levelname == "WARNING" and "daily_spend_cap" in r.getMessage()
    ]
    assert len(warnings) == 1, caplog.text
    assert "[prices" in warnings[0].getMessage() and "CNY" in warnings[0].getMessage()


async def test_cap_on_a_platform_with_prices_does_not_warn(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    price = {"input_cached": 1.0, "input": 4.0, "output": 16.0}
    async with _capped(
        settings, region="china", prices={"kimi-k3": price}, daily_spend_cap=5.0
    ) as client:
        await client.list_tools()
    assert "daily_spend_cap" not in caplog.text


async def test_cap_with_an_unreadable_spend_ledger_refuses_saying_nothing_was_sent(
    settings: Settings, emulator: Emulator
) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "spend.sqlite3").write_bytes(b"someone else's file" * 64)
    async with _capped(settings, daily_spend_cap=5.0) as client:
        message = error_text(await client.call_tool("ask_kimi", {"prompt": "echo hi"}))
    assert "spend.sqlite3" in message and "daily_spend_cap cannot be checked" in message
    assert "nothing was sent to Kimi" in message and emulator.requests == []
