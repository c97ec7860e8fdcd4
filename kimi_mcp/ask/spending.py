"""Each call's cost estimated and recorded per UTC day, for `cost` and `spent_today`."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from kimi_mcp.ask.pricing import Estimate, PriceTable
from kimi_mcp.errors import KimiError
from kimi_mcp.kimi.types import Usage
from kimi_mcp.store.spend import Spend, SpendLedger

log = logging.getLogger(__name__)


def utc_day() -> str:
    return datetime.now(UTC).date().isoformat()


@dataclass(frozen=True)
class CostMeter:
    prices: PriceTable
    ledger: SpendLedger

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
