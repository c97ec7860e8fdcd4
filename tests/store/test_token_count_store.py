"""The token-count cache on both backends: what one process (or replica) counted, another finds;
a count never comes back for a key that was not stored, and a foreign value is a StoreError."""

from pathlib import Path

import pytest

from kimi_mcp.errors import StoreError
from kimi_mcp.store.open import open_stores
from tests.store.conftest import OpenStores

pytestmark = pytest.mark.anyio


async def test_counts_kept_by_one_process_are_found_by_another(open_backend: OpenStores) -> None:
    first, second = open_backend(), open_backend()
    await first.token_counts.put_many({"a" * 64: 12, "b" * 64: 7})
    found = await second.token_counts.get_many(["a" * 64, "c" * 64, "b" * 64])
    assert found == {"a" * 64: 12, "b" * 64: 7}


async def test_nothing_asked_nothing_found_and_a_recount_replaces_a_count(
    open_backend: OpenStores,
) -> None:
    store = open_backend().token_counts
    assert await store.get_many([]) == {}
    await store.put_many({"k": 5})
    await store.put_many({"k": 6})
    assert await store.get_many(["k"]) == {"k": 6}


async def test_a_thousand_keys_in_one_call(open_backend: OpenStores) -> None:
    store = open_backend().token_counts
    counts = {f"key-{i}": i for i in range(1000)}
    await store.put_many(counts)
    assert await store.get_many(list(counts)) == counts


async def test_a_value_kimi_mcp_did_not_write_is_a_store_error_under_redis(
    redis_url: str, tmp_path: Path
) -> None:
    import redis

    with redis.Redis.from_url(redis_url) as raw:
        raw.set("kimi-mcp:tokens:odd", "not a number")
    stores = open_stores(redis_url, data_dir=tmp_path)
    try:
        with pytest.raises(StoreError, match="holds something kimi-mcp did not write"):
            await stores.token_counts.get_many(["odd"])
    finally:
        await stores.aclose()
