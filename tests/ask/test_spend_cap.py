"""CostMeter's daily cap against a real SQLite ledger, with the clock injected: the reset time it
states near midnight, the day turning, and the cap and `spent_today` reading the same day.

The MCP side (nothing sent, the tool error, the race, the settings): tests/server/test_spend_cap.py
"""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from kimi_mcp.ask.pricing import PriceTable
from kimi_mcp.ask.spending import CostMeter
from kimi_mcp.errors import SpendCapError
from kimi_mcp.kimi.types import Usage
from kimi_mcp.store.spend import Spend
from kimi_mcp.store.sqlite_spend import SqliteSpendLedger

pytestmark = pytest.mark.anyio

CAP = 1.0
USAGE = Usage(prompt_tokens=1_000_000, completion_tokens=100_000)  # kimi-k2.6: 1.35 USD
BEFORE_MIDNIGHT = datetime(2026, 3, 14, 23, 59, 59, 900_000, UTC)
AFTER_MIDNIGHT = datetime(2026, 3, 15, 0, 0, 0, 100_000, UTC)


class Clock:
    """Readings handed out in order, the last one repeated: time moves only when a test says."""

    def __init__(self, *readings: datetime) -> None:
        self.readings = list(readings)

    def __call__(self) -> datetime:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]

    def set(self, *readings: datetime) -> None:
        self.readings = list(readings)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SqliteSpendLedger]:
    spend = SqliteSpendLedger(tmp_path / "spend.sqlite3")
    yield spend
    await spend.aclose()


def _meter(ledger: SqliteSpendLedger, clock: Callable[[], datetime]) -> CostMeter:
    return CostMeter(PriceTable.for_currency("USD", {}), ledger, CAP, now=clock)


async def _refusal(meter: CostMeter) -> str:
    with pytest.raises(SpendCapError) as refused:
        await meter.check_cap()
    return str(refused.value)


async def test_refusal_a_moment_before_midnight_says_the_day_resets_within_a_minute(
    ledger: SqliteSpendLedger,
) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    meter = _meter(ledger, clock)
    await meter.charge("kimi-k2.6", USAGE)
    # The check reads the clock once: were the message to read it again a moment later, the
    # next day's midnight would be "in 23 h 59 min" for a cap that lifts in 0.1 s.
    clock.set(BEFORE_MIDNIGHT, AFTER_MIDNIGHT)
    message = await _refusal(meter)
    assert "1.3500 USD" in message and "daily_spend_cap (1 USD)" in message
    assert "00:00 UTC, in 1 min." in message, message


@pytest.mark.parametrize(
    ("now", "said"),
    [
        (datetime(2026, 3, 14, 23, 59, 30, tzinfo=UTC), "in 1 min."),
        (datetime(2026, 3, 14, 23, 0, 0, tzinfo=UTC), "in 1 h 0 min."),
        (datetime(2026, 3, 14, 21, 29, 10, tzinfo=UTC), "in 2 h 31 min."),
        (datetime(2026, 3, 14, 0, 0, 0, tzinfo=UTC), "in 24 h 0 min."),
    ],
)
async def test_refusal_states_the_time_to_the_reset_never_as_zero(
    ledger: SqliteSpendLedger, now: datetime, said: str
) -> None:
    meter = _meter(ledger, Clock(now))
    await meter.charge("kimi-k2.6", USAGE)
    message = await _refusal(meter)
    assert f"The day resets at 00:00 UTC, {said}" in message, message
    assert "0 h 0 min" not in message


async def test_the_cap_lifts_when_the_utc_day_turns(ledger: SqliteSpendLedger) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    meter = _meter(ledger, clock)
    await meter.charge("kimi-k2.6", USAGE)
    await _refusal(meter)
    clock.set(AFTER_MIDNIGHT)
    await meter.check_cap()  # a new day: nothing spent yet
    assert (await meter.spent_today()).amount == 0


async def test_spent_today_and_the_cap_count_the_same_day_of_the_same_clock(
    ledger: SqliteSpendLedger,
) -> None:
    clock = Clock(BEFORE_MIDNIGHT)
    meter = _meter(ledger, clock)
    await meter.charge("kimi-k2.6", USAGE)
    assert (await meter.spent_today()).amount == pytest.approx(1.35)
    assert await ledger.day_total("2026-03-14", "USD") == await meter.spent_today()
    clock.set(AFTER_MIDNIGHT)
    await meter.charge("kimi-k2.6", USAGE.model_copy(update={"completion_tokens": 0}))
    assert (await meter.spent_today()).amount == pytest.approx(0.95)
    await meter.check_cap()  # 0.95 < 1: the figure the cap compares is spent_today's
    assert (await ledger.day_total("2026-03-14", "USD")).amount == pytest.approx(1.35)


async def test_unpriced_call_under_a_cap_gets_a_note_saying_the_cap_cannot_count_it(
    ledger: SqliteSpendLedger,
) -> None:
    meter = _meter(ledger, Clock(BEFORE_MIDNIGHT))
    estimate = await meter.charge("kimi-k2.7-code", USAGE)
    cut = await meter.charge("kimi-k2.6", None)
    assert estimate.cost is None and cut.cost is None
    assert estimate.note is not None and "daily_spend_cap cannot count this call" in estimate.note
    assert cut.note is not None and "daily_spend_cap cannot count this call" in cut.note
    assert (await meter.spent_today()).amount == 0


async def test_cap_with_no_price_at_all_warns_once_when_the_meter_is_built(
    ledger: SqliteSpendLedger, caplog: pytest.LogCaptureFixture
) -> None:
    meter = CostMeter(PriceTable.for_currency("CNY", {}), ledger, 5.0)
    await meter.charge("kimi-k2.6", USAGE)
    await meter.check_cap()
    warned = [r.getMessage() for r in caplog.records if "daily_spend_cap" in r.getMessage()]
    assert len(warned) == 1 and "CNY" in warned[0], warned


class CountedLedger:
    """The real SQLite ledger, its day_total reads counted; `hold` keeps a read that has been
    made from returning until the test lets it go (a read in flight across a charge)."""

    def __init__(self, inner: SqliteSpendLedger) -> None:
        self.inner = inner
        self.reads = 0
        self.hold: anyio.Event | None = None

    async def check(self) -> None:
        await self.inner.check()

    async def record(self, day: str, currency: str, spend: Spend) -> None:
        await self.inner.record(day, currency, spend)

    async def day_total(self, day: str, currency: str) -> Spend:
        hold = self.hold
        total = await self.inner.day_total(day, currency)
        self.reads += 1  # counted once made: counted before, a charge could land first
        if hold is not None:
            await hold.wait()
        return total

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_burst_of_check_balance_reads_the_ledger_once(ledger: SqliteSpendLedger) -> None:
    counted = CountedLedger(ledger)
    meter = CostMeter(PriceTable.for_currency("USD", {}), counted)
    totals = [(await meter.spent_today()).amount for _ in range(50)]
    assert totals == [0.0] * 50 and counted.reads == 1


async def test_this_servers_charge_shows_in_spent_today_at_once(ledger: SqliteSpendLedger) -> None:
    meter = CostMeter(PriceTable.for_currency("USD", {}), ledger)
    assert (await meter.spent_today()).amount == 0
    estimate = await meter.charge("kimi-k2.6", USAGE)
    assert estimate.cost is not None
    assert (await meter.spent_today()).amount == pytest.approx(estimate.cost.amount)


async def test_a_read_in_flight_across_a_charge_is_not_kept(ledger: SqliteSpendLedger) -> None:
    counted = CountedLedger(ledger)
    meter = CostMeter(PriceTable.for_currency("USD", {}), counted)
    counted.hold = held = anyio.Event()
    read: list[float] = []

    async def check_balance() -> None:
        read.append((await meter.spent_today()).amount)

    async with anyio.create_task_group() as group:
        group.start_soon(check_balance)
        while counted.reads == 0:  # the read is made (0 spent), and held before returning
            await anyio.lowlevel.checkpoint()
        counted.hold = None
        estimate = await meter.charge("kimi-k2.6", USAGE)
        held.set()
    assert read == [0.0]  # it was read before the charge landed
    assert estimate.cost is not None
    assert (await meter.spent_today()).amount == pytest.approx(estimate.cost.amount)


async def test_other_servers_charges_show_once_the_total_is_read_again(tmp_path: Path) -> None:
    ours, theirs = (SqliteSpendLedger(tmp_path / "spend.sqlite3") for _ in range(2))
    meter = CostMeter(PriceTable.for_currency("USD", {}), ours, fresh_for=0)
    other = CostMeter(PriceTable.for_currency("USD", {}), theirs)
    try:
        assert (await meter.spent_today()).amount == 0
        estimate = await other.charge("kimi-k2.6", USAGE)
        assert estimate.cost is not None
        assert (await meter.spent_today()).amount == pytest.approx(estimate.cost.amount)
    finally:
        await ours.aclose()
        await theirs.aclose()


async def test_check_balance_calls_at_once_share_one_ledger_read(
    ledger: SqliteSpendLedger,
) -> None:
    """32 HTTP clients past the fresh window made 32 reads, each on a worker thread."""
    counted = CountedLedger(ledger)
    meter = CostMeter(PriceTable.for_currency("USD", {}), counted)
    counted.hold = held = anyio.Event()
    totals: list[float] = []

    async def check_balance() -> None:
        totals.append((await meter.spent_today()).amount)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(32):
                group.start_soon(check_balance)
            while counted.reads == 0:  # the first read is made and held: the others ask meanwhile
                await anyio.lowlevel.checkpoint()
            for _ in range(100):  # let every caller reach the ledger, or join the read in flight
                await anyio.lowlevel.checkpoint()
            held.set()
    assert totals == [0.0] * 32 and counted.reads == 1


async def test_a_caller_whose_shared_read_was_cancelled_reads_on_its_own(
    ledger: SqliteSpendLedger,
) -> None:
    counted = CountedLedger(ledger)
    meter = CostMeter(PriceTable.for_currency("USD", {}), counted)
    counted.hold = anyio.Event()  # never set: the first read is held until cancelled
    followed: list[float] = []

    async def follower() -> None:
        followed.append((await meter.spent_today()).amount)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            leader = anyio.CancelScope()
            group.start_soon(_lead, meter, leader)
            while counted.reads == 0:  # the leader's read is made and held
                await anyio.lowlevel.checkpoint()
            group.start_soon(follower)
            for _ in range(10):  # the follower joins the read in flight
                await anyio.lowlevel.checkpoint()
            assert followed == [] and counted.reads == 1
            counted.hold = None
            leader.cancel()
    assert followed == [0.0] and counted.reads == 2


async def _lead(meter: CostMeter, scope: anyio.CancelScope) -> None:
    with scope:
        await meter.spent_today()
