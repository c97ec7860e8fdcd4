"""The spend ledger: what this server's calls cost, summed per UTC day and currency, with the
tokens and searches behind it (so a figure can be checked against Kimi's bill).

`SpendLedger` is the small interface callers use; `sqlite_spend` holds the embedded default.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Spend:
    """One call's estimated cost and what it was made of; a day's total has the same shape."""

    amount: float
    cached_tokens: int = 0
    prompt_tokens: int = 0  # cached ones included, as Kimi reports them
    completion_tokens: int = 0
    searches: int = 0
    calls: int = 1


class SpendLedger(Protocol):
    async def check(self) -> None:
        """Usable (reachable, writable), or StoreError saying the fix: asked before billing."""

    async def record(self, day: str, currency: str, spend: Spend) -> None:
        """Add one call's spend to `day` (YYYY-MM-DD, UTC) in `currency`."""

    async def day_total(self, day: str, currency: str) -> Spend:
        """The sum of `day` in `currency` (amount 0 and calls 0 when nothing was recorded)."""

    async def aclose(self) -> None: ...
