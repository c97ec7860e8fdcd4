"""The store backends every shared store test runs against: one fixture, parametrised, so the
SQLite and Redis backends cannot drift apart."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from kimi_mcp.store.open import Stores, open_stores

OpenStores = Callable[[], Stores]
BACKENDS = ["sqlite", "redis"]
TTL_DAYS = 30


@pytest.fixture(params=BACKENDS)
async def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenStores]:
    """Opens the same stores again each time it is called (as another process would: its own
    connection or file handle); all closed at the end."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    opened: list[Stores] = []

    def open_one() -> Stores:
        opened.append(open_stores(url, data_dir=tmp_path, ttl_days=TTL_DAYS))
        return opened[-1]

    yield open_one
    for stores in opened:
        await stores.aclose()
