"""The spend ledger: per UTC day and currency, summed across calls and processes."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from kimi_mcp.errors import StoreError
from kimi_mcp.store.spend import Spend, SpendLedger
from kimi_mcp.store.sqlite_spend import SqliteSpendLedger
from tests.store.conftest import OpenStores

pytestmark = pytest.mark.anyio

OpenLedger = Callable[[], Awaitable[SpendLedger]]
DAY = "2026-11-30"


@pytest.fixture
def open_spend(open_backend: OpenStores) -> OpenLedger:
    """Opens the same ledger again each time it is called (as another process would)."""

    async def open_one() -> SpendLedger:
        return open_backend().spend

    return open_one


async def test_a_day_with_nothing_recorded_has_spent_nothing(open_spend: OpenLedger) -> None:
    total = await (await open_spend()).day_total(DAY, "USD")
    assert total.amount == 0 and total.calls == 0


async def test_calls_of_a_day_add_up_with_the_tokens_behind_them(open_spend: OpenLedger) -> None:
    ledger = await open_spend()
    await ledger.record(DAY, "USD", Spend(0.25, 100, 300, 50, 1))
    await ledger.record(DAY, "USD", Spend(0.5, 0, 200, 70, 0))
    total = await ledger.day_total(DAY, "USD")
    assert total == Spend(pytest.approx(0.75), 100, 500, 120, 1, calls=2)  # type: ignore[arg-type]


async def test_days_and_currencies_are_kept_apart(open_spend: OpenLedger) -> None:
    ledger = await open_spend()
    await ledger.record(DAY, "USD", Spend(1.0))
    await ledger.record("2026-12-01", "USD", Spend(2.0))
    await ledger.record(DAY, "CNY", Spend(7.0))
    assert (await ledger.day_total(DAY, "USD")).amount == 1.0
    assert (await ledger.day_total("2026-12-01", "USD")).amount == 2.0
    assert (await ledger.day_total(DAY, "CNY")).amount == 7.0


async def test_spend_survives_a_restart(open_spend: OpenLedger) -> None:
    first = await open_spend()
    await first.record(DAY, "USD", Spend(0.125))
    await first.aclose()
    assert (await (await open_spend()).day_total(DAY, "USD")).amount == 0.125


async def test_processes_sharing_the_ledger_lose_no_call(open_spend: OpenLedger) -> None:
    ledgers = [await open_spend(), await open_spend()]
    async with anyio.create_task_group() as group:
        for index in range(40):
            group.start_soon(ledgers[index % 2].record, DAY, "USD", Spend(0.5))
    total = await ledgers[0].day_total(DAY, "USD")
    assert total.calls == 40 and total.amount == 20.0


async def test_a_file_that_is_not_ours_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "spend.sqlite3"
    path.write_bytes(b"not a database at all" * 100)
    ledger = SqliteSpendLedger(path)
    with pytest.raises(StoreError, match=r"spend\.sqlite3"):
        await ledger.day_total(DAY, "USD")
    await ledger.aclose()
    assert path.read_bytes() == b"not a database at all" * 100
