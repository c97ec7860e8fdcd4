"""Each call's cost estimated and recorded per UTC day, for `cost` and `spent_today`."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kimi_mcp.ask.pricing import Estimate, PriceTable
from kimi_mcp.errors import KimiError, SpendCapError
from kimi_mcp.kimi.types import Usage
from kimi_mcp.store.spend import Spend, SpendLedger

log = logging.getLogger(__name__)


def utc_day() -> str:
    return datetime.now(UTC).date().isoformat()


@dataclass(frozen=True)
class CostMeter:
    prices: PriceTable
    ledger: SpendLedger
    daily_cap: float | None = None  # in the price table's currency

    async def check_cap(self) -> None:
        """Refuse once today's recorded spend reached the cap (calls in flight may still add
        to it: a call that starts under the cap can finish over it).

        Raises:
            SpendCapError: the spend, the cap, when it resets and how to raise it.
        """
        if self.daily_cap is None:
            return
        spent = (await self.spent_today()).amount
        if spent < self.daily_cap:
            return
        currency, now = self.prices.currency, datetime.now(UTC)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        hours, seconds = divmod(int((midnight - now).total_seconds()), 3600)
        raise SpendCapError(
            f"Today's estimated spend of this server is {spent:.4f} {currency}, which reached "
            f"daily_spend_cap ({self.daily_cap:g} {currency}); nothing was sent to Kimi (no "
            f"cost). The day resets at 00:00 UTC, in {hours} h {seconds // 60} min. To go on "
            "today, raise daily_spend_cap (KIMI_MCP_DAILY_SPEND_CAP or the config file) and "
            "restart kimi-mcp."
        )

    async def charge(self, model: str, usage: Usage | None, searches: int = 0) -> Estimate:
        """The call's estimated cost, added to today's spend. A ledger that cannot record it
        costs the caller nothing: the answer was billed and is returned all the same."""
        estimate = self.prices.estimate(model, usage, searches)
        if estimate.cost is None or usage is None:
            return estimate
        spend = Spend(
            estimate.cost.amount,
            usage.cached_tokens,
            usage.prompt_tokens,
            usage.completion_tokens,
            searches,
        )
        try:
            await self.ledger.record(utc_day(), self.prices.currency, spend)
        except KimiError as exc:
            log.warning("spend of a %s call not recorded: %s", model, exc)
        return estimate

    async def spent_today(self) -> Spend:
        """What this server's calls (every process sharing its data_dir) cost today, UTC."""
        return await self.ledger.day_total(utc_day(), self.prices.currency)
