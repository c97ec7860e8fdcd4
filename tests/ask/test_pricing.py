"""Cost arithmetic: each built-in price row, overrides, and the reasons for no cost."""

import pytest

from kimi_mcp.ask.pricing import BUILT_IN_USD, Price, PriceTable
from kimi_mcp.kimi.types import Usage

# 1M cached, 2M uncached prompt tokens and 3M output tokens: each part is a price times 1, 2, 3.
USAGE = Usage(prompt_tokens=3_000_000, cached_tokens=1_000_000, completion_tokens=3_000_000)

# kimi-api.md section 3, row by row (cache hit / cache miss / output, USD per 1M tokens).
ROWS = {
    "kimi-k3": (0.30, 3.00, 15.00),
    "kimi-k2.6": (0.16, 0.95, 4.00),
    "kimi-k2.5": (0.10, 0.60, 3.00),
    "kimi-k2-0905-preview": (0.15, 0.60, 2.50),
    "kimi-k2-thinking": (0.15, 0.60, 2.50),
    "kimi-k2-turbo-preview": (0.15, 1.15, 8.00),
    "moonshot-v1-8k": (0.20, 0.20, 2.00),
    "moonshot-v1-32k": (1.00, 1.00, 3.00),
    "moonshot-v1-128k": (2.00, 2.00, 5.00),
}


def test_every_price_row_of_the_docs_is_built_in() -> None:
    assert set(BUILT_IN_USD) == set(ROWS)


@pytest.mark.parametrize(("model", "row"), ROWS.items())
def test_cost_of_each_price_row(model: str, row: tuple[float, float, float]) -> None:
    cached, miss, output = row
    cost = PriceTable.for_currency("USD", {}).estimate(model, USAGE).cost
    assert cost is not None
    assert cost.currency == "USD" and cost.estimated
    assert cost.breakdown.input_cached == pytest.approx(cached)
    assert cost.breakdown.input == pytest.approx(2 * miss)
    assert cost.breakdown.output == pytest.approx(3 * output)
    assert cost.breakdown.tools == 0
    assert cost.amount == pytest.approx(cached + 2 * miss + 3 * output)


def test_small_call_keeps_its_fractions_of_a_cent() -> None:
    usage = Usage(prompt_tokens=1200, cached_tokens=1000, completion_tokens=50)
    cost = PriceTable.for_currency("USD", {}).estimate("kimi-k2.6", usage).cost
    assert cost is not None
    assert cost.amount == pytest.approx((1000 * 0.16 + 200 * 0.95 + 50 * 4.00) / 1e6)


def test_web_searches_are_counted_per_call() -> None:
    usage = Usage(prompt_tokens=0, completion_tokens=0)
    cost = PriceTable.for_currency("USD", {}).estimate("kimi-k3", usage, searches=3).cost
    assert cost is not None
    assert cost.breakdown.tools == pytest.approx(0.015)
    assert cost.amount == pytest.approx(0.015)


def test_config_price_overrides_the_built_in_one() -> None:
    table = PriceTable.for_currency("USD", {"kimi-k3": Price(1.0, 2.0, 3.0, 0.01)})
    cost = table.estimate("kimi-k3", USAGE, searches=1).cost
    assert cost is not None
    assert cost.amount == pytest.approx(1.0 + 4.0 + 9.0 + 0.01)


def test_override_without_a_search_price_keeps_the_built_in_one() -> None:
    table = PriceTable.for_currency("USD", {"my-model": Price(0.0, 1.0, 2.0)})
    cost = table.estimate("my-model", Usage(), searches=2).cost
    assert cost is not None and cost.breakdown.tools == pytest.approx(0.01)


def test_model_without_a_price_has_no_cost_and_says_how_to_set_one() -> None:
    estimate = PriceTable.for_currency("USD", {}).estimate("kimi-k2.7-code", USAGE)
    assert estimate.cost is None
    assert estimate.note is not None and '[prices."kimi-k2.7-code"]' in estimate.note


def test_china_platform_has_no_built_in_prices() -> None:
    estimate = PriceTable.for_currency("CNY", {}).estimate("kimi-k2.6", USAGE)
    assert estimate.cost is None
    assert estimate.note is not None and "no CNY prices" in estimate.note


def test_china_platform_uses_prices_from_the_config_in_cny() -> None:
    table = PriceTable.for_currency("CNY", {"kimi-k2.6": Price(1.0, 4.0, 16.0)})
    cost = table.estimate("kimi-k2.6", USAGE).cost
    assert cost is not None and cost.currency == "CNY"
    assert cost.amount == pytest.approx(1.0 + 8.0 + 48.0)


def test_search_without_a_known_search_price_has_no_cost() -> None:
    table = PriceTable.for_currency("CNY", {"kimi-k2.6": Price(1.0, 4.0, 16.0)})
    estimate = table.estimate("kimi-k2.6", USAGE, searches=1)
    assert estimate.cost is None and estimate.note is not None


def test_missing_usage_has_no_cost_and_says_why() -> None:
    estimate = PriceTable.for_currency("USD", {}).estimate("kimi-k2.6", None)
    assert estimate.cost is None
    assert estimate.note is not None and "usage" in estimate.note
