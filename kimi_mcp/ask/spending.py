"""Each call's cost estimated and recorded per UTC day, for `cost`, `spent_today` and the cap."""

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import anyio

from kimi_mcp.ask.pricing import Estimate, PriceTable
from kimi_mcp.errors import KimiError, SpendCapError, StoreError
from kimi_mcp.kimi.types import Usage
from kimi_mcp.store.answer_writes import Charge
from kimi_mcp.store.spend import Spend, SpendLedger

log = logging.getLogger(__name__)

UNCOUNTED = "daily_spend_cap cannot count this call: its cost is not in spent_today."
# check_balance's spent_today is read from the ledger at most this often per process: the read is
# a thread hop (SQLite) or a round trip (Redis) that made check_balance 0.8x a bare balance tool
# over HTTP. This process's own charges show at once; other processes' within this time.
SPENT_TODAY_FRESH_FOR = 1.0  # seconds


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Bill:
    """A call's estimated cost, and the spend to record for it (None: nothing can be counted)."""

    estimate: Estimate
    charge: Charge | None


@dataclass(frozen=True)
class CostMeter:
    prices: PriceTable
    ledger: SpendLedger
    daily_cap: float | None = None  # in the price table's currency
    # The clock (UTC-aware). Each check reads it once: the day it counts and the reset time it
    # states must be the same day, even a moment before midnight.
    now: Callable[[], datetime] = utc_now
    fresh_for: float = SPENT_TODAY_FRESH_FOR
    _recent: "_RecentTotal" = field(default_factory=lambda: _RecentTotal(), compare=False)

    def __post_init__(self) -> None:
        # Built once per server, at start-up: a cap that can count nothing is said there, once.
        if self.daily_cap is not None and not self.prices.prices:
            log.warning(
                "daily_spend_cap is set, but no model has a price in %s (Kimi's docs give none), "
                "so the cap counts no call; set the prices in the config file under "
                '[prices."<model>"] to make it count.',
                self.prices.currency,
            )

    async def check_cap(self) -> None:
        """Refuse once today's recorded spend reached the cap (calls in flight may still add
        to it: a call that starts under the cap can finish over it).

        Raises:
            SpendCapError: the spend, the cap, when it resets and how to raise it.
            StoreError: the ledger cannot be read, so the cap cannot be checked.
        """
        if self.daily_cap is None:
            return
        now = self.now().astimezone(UTC)
        try:
            spent = (await self._day_total(now)).amount
        except StoreError as exc:  # a cap that cannot be checked is not waved through
            raise exc.with_note(
                "daily_spend_cap cannot be checked without it, so nothing was sent to Kimi "
                "(no cost)."
            ) from None
        if spent < self.daily_cap:
            return
        currency = self.prices.currency
        raise SpendCapError(
            f"Today's estimated spend of this server is {spent:.4f} {currency}, which reached "
            f"daily_spend_cap ({self.daily_cap:g} {currency}); nothing was sent to Kimi (no "
            f"cost). The day resets at 00:00 UTC, {_until_midnight(now)}. To go on today, raise "
            "daily_spend_cap (KIMI_MCP_DAILY_SPEND_CAP or the config file) and restart kimi-mcp."
        )

    async def charge(self, model: str, usage: Usage | None, searches: int = 0) -> Estimate:
        """The call's estimated cost, added to today's spend. A ledger that cannot record it
        costs the caller nothing: the answer was billed and is returned all the same."""
        bill = self.bill(model, usage, searches)
        if bill.charge is not None:
            charge, failure = bill.charge, None
            try:
                await self.ledger.record(charge.day, charge.currency, charge.spend)
            except KimiError as exc:
                failure = exc
            self.recorded(model, failure)
        return bill.estimate

    def bill(self, model: str, usage: Usage | None, searches: int = 0) -> Bill:
        """The call's estimated cost and the spend to record; the caller records it (with
        other writes, in one store hop) and then tells `recorded`."""
        estimate = self.prices.estimate(model, usage, searches)
        if estimate.cost is None or usage is None:
            if self.daily_cap is not None:  # say so: the cap must not be bypassed in silence
                estimate = replace(estimate, note=f"{estimate.note} {UNCOUNTED}")
            return Bill(estimate, None)
        spend = Spend(
            estimate.cost.amount,
            usage.cached_tokens,
            usage.prompt_tokens,
            usage.completion_tokens,
            searches,
        )
        return Bill(estimate, Charge(_day(self.now()), self.prices.currency, spend))

    def recorded(self, model: str, failure: Exception | None) -> None:
        """A bill's spend was recorded, or `failure` kept it out of the ledger (logged: the
        answer was billed and is returned all the same)."""
        if isinstance(failure, KimiError):
            log.warning("spend of a %s call not recorded: %s", model, failure)
        elif failure is not None:
            log.error(
                "spend of a %s call not recorded (a kimi-mcp bug; please report it)",
                model,
                exc_info=failure,
            )
        self._recent.forget()  # recorded or not, the next spent_today reads the ledger

    async def spent_today(self) -> Spend:
        """What this server's calls (every process sharing its data_dir) cost today, UTC; read
        again after this process charged a call, or after `fresh_for` seconds."""
        recent, day = self._recent, _day(self.now())
        kept = recent.total_of(day, self.fresh_for)
        if kept is not None:
            return kept
        return await recent.read(day, lambda: self.ledger.day_total(day, self.prices.currency))

    async def _day_total(self, now: datetime) -> Spend:
        return await self.ledger.day_total(_day(now), self.prices.currency)


class _RecentTotal:
    """The last day total read, kept for a moment. A charge bumps the generation, so a read that
    was in flight across a charge is not kept: it may miss that charge."""

    def __init__(self) -> None:
        self.generation = 0
        self._day = ""
        self._total: Spend | None = None
        self._read_at = 0.0
        self._flight: _Flight | None = None

    async def read(self, day: str, read_total: Callable[[], Awaitable[Spend]]) -> Spend:
        """`read_total()`, shared by the callers that ask while it is in flight (same day, no
        charge since it began): a burst of 32 HTTP check_balance calls past `fresh_for` made 32
        ledger reads, each on a worker thread of its own. A caller whose leader failed or was
        cancelled reads on its own."""
        flight = self._flight
        if flight is not None and flight.day == day and flight.generation == self.generation:
            await flight.done.wait()
            return flight.total if flight.total is not None else await read_total()
        flight = self._flight = _Flight(day, self.generation)
        try:
            flight.total = await read_total()
            self.keep(day, flight.total, flight.generation)
            return flight.total
        finally:
            flight.done.set()
            if self._flight is flight:
                self._flight = None

    def total_of(self, day: str, fresh_for: float) -> Spend | None:
        fresh = time.monotonic() - self._read_at < fresh_for
        return self._total if fresh and day == self._day else None

    def keep(self, day: str, total: Spend, generation: int) -> None:
        if generation == self.generation:
            self._day, self._total, self._read_at = day, total, time.monotonic()

    def forget(self) -> None:
        self.generation += 1
        self._total = None


@dataclass
class _Flight:
    """One ledger read in flight, and its total once it is made."""

    day: str
    generation: int
    done: anyio.Event = field(default_factory=anyio.Event)
    total: Spend | None = None


def _day(now: datetime) -> str:
    return now.astimezone(UTC).date().isoformat()


def _until_midnight(now: datetime) -> str:
    """'in 2 h 31 min' to the next 00:00 UTC, rounded up: never 'in 0 min' before it."""
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    minutes = math.ceil((midnight - now).total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    return f"in {hours} h {minutes} min" if hours else f"in {minutes} min"
