"""Fixtures of the team tests: the store the replicas share, by name."""

import pytest

from kimi_mcp.config import Settings

# Redis joins as soon as the store_url setting exists (the Redis backends' work); until then the
# replicas share one SQLite data_dir, as processes on one machine can.
STORES = ["sqlite", "redis"] if "store_url" in Settings.model_fields else ["sqlite"]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """The store's kind, and its URL when it is a server (Redis, flushed for each test)."""
    kind = str(request.param)
    if kind == "redis":
        return kind, str(request.getfixturevalue("redis_url"))
    return kind, None
