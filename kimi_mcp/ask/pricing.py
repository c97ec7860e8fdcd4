"""What a call costs, estimated from the usage Kimi reported and a price table per model.

The built-in prices are kimi-api.md section 3 (USD per 1M tokens on the global platform) and the
web search price of sections 2.2 / 2.8 (USD per call). The docs give no CNY prices, so on the
China platform only prices set in the config file are known. Kimi's bill is authoritative: these
are estimates, and prices change.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from kimi_mcp.kimi.types import Usage

PER_TOKENS = 1_000_000  # prices are per 1M tokens
WEB_SEARCH_USD = 0.005  # per search (kimi-api.md 2.2 and 2.8)
PLACES = 8  # a token of a cheap model costs ~1e-7 USD: keep enough digits to show it


@dataclass(frozen=True)
class Price:
    """One model's prices: per 1M tokens, and per web search call (None: not known)."""

    input_cached: float
    input: float
    output: float
    web_search: float | None = None


def _usd(cached: float, miss: float, output: float) -> Price:
    return Price(cached, miss, output, WEB_SEARCH_USD)


# kimi-api.md section 3, "2026 prices (USD per 1M tokens: cache hit / cache miss / output)".
# moonshot-v1 has no cache-hit price in the docs: cached tokens are priced as input (an upper
# bound rather than a guessed discount).
BUILT_IN_USD: Mapping[str, Price] = {
    "kimi-k3": _usd(0.30, 3.00, 15.00),
    "kimi-k2.6": _usd(0.16, 0.95, 4.00),
    "kimi-k2.5": _usd(0.10, 0.60, 3.00),  # a third party's figures
    "kimi-k2-0905-preview": _usd(0.15, 0.60, 2.50),  # 2025
    "kimi-k2-thinking": _usd(0.15, 0.60, 2.50),  # 2025
    "kimi-k2-turbo-preview": _usd(0.15, 1.15, 8.00),  # 2025
    "moonshot-v1-8k": _usd(0.20, 0.20, 2.00),
    "moonshot-v1-32k": _usd(1.00, 1.00, 3.00),
    "moonshot-v1-128k": _usd(2.00, 2.00, 5.00),
}


@dataclass(frozen=True)
class CostBreakdown:
    input_cached: float
    input: float
    output: float
    tools: float


@dataclass(frozen=True)
class Cost:
    amount: float
    currency: str
    breakdown: CostBreakdown
    estimated: bool = True  # always: computed here, not read from Kimi's bill


@dataclass(frozen=True)
class Estimate:
    """A cost, or None with the reason why none can be given."""

    cost: Cost | None
    note: str | None = None


@dataclass(frozen=True)
class PriceTable:
    currency: str
    prices: Mapping[str, Price] = field(default_factory=dict)

    @classmethod
    def for_currency(cls, currency: str, overrides: Mapping[str, Price]) -> "PriceTable":
        """The built-in USD prices (on USD platforms only) with the config file's on top; an
        override without a search price keeps the built-in one there."""
        if currency != "USD":
            return cls(currency, dict(overrides))
        filled = {
            model: price
            if price.web_search is not None
            else replace(price, web_search=WEB_SEARCH_USD)
            for model, price in overrides.items()
        }
        return cls(currency, {**BUILT_IN_USD, **filled})

    def estimate(self, model: str, usage: Usage | None, searches: int = 0) -> Estimate:
        price = self.prices.get(model)
        if price is None:
            return Estimate(None, self._no_price(model))
        if usage is None:
            return Estimate(None, "Kimi reported no token usage (the answer was cut off).")
        if searches and price.web_search is None:
            return Estimate(None, f"no web search price is known in {self.currency}.")
        return Estimate(_cost(price, usage, searches, self.currency))

    def _no_price(self, model: str) -> str:
        hint = f'set one in the config file under [prices."{model}"]'
        if self.currency != "USD":
            return f"Kimi's docs give no {self.currency} prices; {hint}."
        return f"no price is known for {model}; {hint}."


def _cost(price: Price, usage: Usage, searches: int, currency: str) -> Cost:
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    breakdown = CostBreakdown(
        input_cached=round(cached * price.input_cached / PER_TOKENS, PLACES),
        input=round((usage.prompt_tokens - cached) * price.input / PER_TOKENS, PLACES),
        output=round(usage.completion_tokens * price.output / PER_TOKENS, PLACES),
        tools=round(searches * (price.web_search or 0.0), PLACES),
    )
    total = breakdown.input_cached + breakdown.input + breakdown.output + breakdown.tools
    return Cost(round(total, PLACES), currency, breakdown)
