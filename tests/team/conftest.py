"""Fixtures of the team tests: the store the replicas share, by name."""

import pytest

# The replicas share one SQLite data_dir (processes on one machine can), or one Redis.
STORES = ["sqlite", "redis"]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """The store's kind, and its URL when it is a server (Redis, flushed for each test)."""
    kind = str(request.param)
    if kind == "redis":
        return kind, str(request.getfixturevalue("redis_url"))
    return kind, None
