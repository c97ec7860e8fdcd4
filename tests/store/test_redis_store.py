"""The Redis backend beyond the shared suite: atomicity under races, claims across processes,
expiry by Redis' TTLs, a Redis that goes down and comes back, and keys kimi-mcp did not write.
Against a real redis-server (tests/redis_server.py)."""

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis

from kimi_mcp.errors import InputError, StoreError
from kimi_mcp.store.conversations import DEFAULT_OWNER, Turn, new_conversation
from kimi_mcp.store.open import Stores, open_stores
from kimi_mcp.store.spend import Spend
from tests.redis_server import RedisServer

pytestmark = pytest.mark.anyio
OWNER, MODEL, PREFIX = DEFAULT_OWNER, "kimi-k2.6", "kimi-mcp:"
SHA = "ab" * 32
CLAIM = """
import anyio, sys
from pathlib import Path
from kimi_mcp.store.open import open_stores

async def main() -> None:
    stores = open_stores(sys.argv[1], data_dir=Path("."))
    print(await stores.uploads.claim(sys.argv[2], "file-extract", seconds=3600))
    await stores.aclose()

anyio.run(main)
"""


def stores_at(url: str, *, ttl_days: float = 30) -> Stores:
    return open_stores(url, data_dir=Path("/nonexistent"), ttl_days=ttl_days)


async def test_a_delete_racing_appends_never_brings_the_conversation_back(redis_url: str) -> None:
    first, second = stores_at(redis_url), stores_at(redis_url)
    try:
        conversation = new_conversation(MODEL, None, owner=OWNER)
        await first.conversations.append(conversation, [Turn("user", "start")], MODEL, [])
        refused: list[InputError] = []

        async def append(n: int) -> None:
            try:
                turns = [Turn("user", f"q{n}"), Turn("assistant", f"a{n}")]
                await second.conversations.append(conversation, turns, MODEL, [f"file-{n}"])
            except InputError as exc:
                refused.append(exc)

        async with anyio.create_task_group() as group:
            for n in range(20):
                group.start_soon(append, n)
            group.start_soon(delete, first, conversation.id)
        with pytest.raises(InputError, match="was deleted"):
            await first.conversations.load(conversation.id, owner=OWNER)
        async with Redis.from_url(redis_url) as raw:  # nothing of it left, but its tombstone
            assert await raw.keys(f"{PREFIX}conv:*") == []
        assert all("was deleted while Kimi answered" in str(exc) for exc in refused)
    finally:
        await first.aclose()
        await second.aclose()


async def delete(stores: Stores, conversation_id: str) -> None:
    await stores.conversations.delete(conversation_id, owner=OWNER)


async def test_one_upload_claim_across_processes_and_a_dead_holders_claim_lapses(
    redis_url: str,
) -> None:
    stores = stores_at(redis_url)
    try:
        held = await stores.uploads.claim(SHA, "file-extract", seconds=60)
        assert held is not None
        with anyio.fail_after(30):  # another process cannot take it while this one holds it
            run = await anyio.run_process([sys.executable, "-c", CLAIM, redis_url, SHA])
        assert run.stdout.strip() == b"None", run.stderr
        await stores.uploads.release(held)
        with anyio.fail_after(30):  # now it can; it exits without releasing (a crash)...
            run = await anyio.run_process([sys.executable, "-c", CLAIM, redis_url, SHA])
        assert run.stdout.strip() not in (b"", b"None"), run.stderr
        # ...and its claim of an hour does not make this process wait that hour.
        assert await stores.uploads.claim(SHA, "file-extract", seconds=60) is not None
    finally:
        await stores.aclose()


async def test_concurrent_spend_from_many_connections_adds_up_exactly(redis_url: str) -> None:
    ledgers = [stores_at(redis_url) for _ in range(4)]
    try:
        async with anyio.create_task_group() as group:
            for n in range(200):
                spend = Spend(0.25, 1, 10, 5, n % 2)
                group.start_soon(ledgers[n % 4].spend.record, "2026-11-30", "USD", spend)
        total = await ledgers[0].spend.day_total("2026-11-30", "USD")
        assert total == Spend(50.0, 200, 2000, 1000, 100, calls=200)
    finally:
        for stores in ledgers:
            await stores.aclose()


async def test_conversations_expire_by_redis_ttl_and_say_so(redis_url: str) -> None:
    """The TTL is Redis' own: checked on the keys, then made to lapse by Redis' clock
    (PEXPIREAT in the past), so the test waits for nothing."""
    stores = stores_at(redis_url, ttl_days=2)
    try:
        stale = new_conversation(MODEL, None, owner=OWNER)
        fresh = new_conversation(MODEL, None, owner=OWNER)
        await stores.conversations.append(stale, [Turn("user", "old")], MODEL, ["file-1"])
        await stores.conversations.append(fresh, [Turn("user", "new")], MODEL, [])
        loaded = await stores.conversations.load(stale.id, owner=OWNER)
        async with Redis.from_url(redis_url) as raw:
            keys = [f"{PREFIX}conv:{stale.id}{part}" for part in ("", ":turns", ":files")]
            for key in keys:
                assert 2 * 86_400_000 - 60_000 < await raw.pttl(key) <= 2 * 86_400_000
                await raw.pexpireat(key, 1)  # Redis drops them now, as after two idle days
        assert [s.id for s in await stores.conversations.recent(10, owner=OWNER)] == [fresh.id]
        with pytest.raises(InputError, match="expired"):
            await stores.conversations.load(stale.id, owner=OWNER)
        with pytest.raises(InputError, match=r"expired.* while Kimi answered"):
            await stores.conversations.append(loaded, [Turn("user", "late")], MODEL, [])
        with pytest.raises(InputError, match="expired"):
            await stores.conversations.delete(stale.id, owner=OWNER)
    finally:
        await stores.aclose()


async def test_an_id_expired_unseen_is_refused_on_append_not_recreated(redis_url: str) -> None:
    """An ask in flight when the keys lapse must not start the conversation over empty."""
    stores = stores_at(redis_url, ttl_days=1)
    try:
        conversation = new_conversation(MODEL, None, owner=OWNER)
        await stores.conversations.append(conversation, [Turn("user", "one")], MODEL, [])
        async with Redis.from_url(redis_url) as raw:
            await raw.delete(*[f"{PREFIX}conv:{conversation.id}{p}" for p in ("", ":turns")])
        with pytest.raises(InputError, match=r"expired.* while Kimi answered"):
            await stores.conversations.append(conversation, [Turn("user", "two")], MODEL, [])
    finally:
        await stores.aclose()


async def test_redis_down_is_a_store_error_and_coming_back_needs_no_restart(
    redis_server: RedisServer, redis_url: str
) -> None:
    stores = stores_at(redis_url)
    try:
        conversation = new_conversation(MODEL, None, owner=OWNER)
        await stores.conversations.append(conversation, [Turn("user", "before")], MODEL, [])
        redis_server.stop()
        for check in (stores.check, stores.conversations.check):
            with pytest.raises(StoreError, match="Redis is not reachable") as down:
                await check()
            assert redis_url in str(down.value) and "no restart needed" in str(down.value)
        with pytest.raises(StoreError):
            await stores.spend.day_total("2026-11-30", "USD")
        redis_server.start()  # an empty Redis again (no persistence here): usable at once
        await stores.check()
        await stores.conversations.append(conversation, [Turn("user", "after")], MODEL, [])
        assert (await stores.conversations.load(conversation.id, owner=OWNER)).turns == [
            Turn("user", "after")
        ]
    finally:
        await stores.aclose()


async def test_the_password_of_a_store_url_is_never_in_an_error() -> None:
    stores = stores_at("redis://:s3cret-pass@127.0.0.1:1/0")  # nothing listens on port 1
    try:
        with pytest.raises(StoreError) as refused:
            await stores.check()
        assert "s3cret-pass" not in str(refused.value)
        assert "redis://:***@127.0.0.1:1/0" in str(refused.value)
    finally:
        await stores.aclose()


async def test_keys_kimi_mcp_did_not_write_are_a_clear_store_error_never_a_crash(
    redis_url: str,
) -> None:
    stores = stores_at(redis_url)
    try:
        async with Redis.from_url(redis_url) as raw:
            await raw.set(f"{PREFIX}conv:conv_string", "another program's value")
            await raw.hset(f"{PREFIX}conv:conv_junk", mapping={"owner": OWNER, "model": "m"})
            await raw.rpush(f"{PREFIX}conv:conv_junk:turns", "not json")
            await raw.zadd(f"{PREFIX}recent:{OWNER}", {"conv_junk": 1.0, "conv_string": 2.0})
            await raw.set(f"{PREFIX}spend:2026-11-30:USD", "7")
            await raw.hset(f"{PREFIX}file:file-odd", "unrelated", "1")
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: stores.conversations.load("conv_string", owner=OWNER),
            lambda: stores.conversations.load("conv_junk", owner=OWNER),
            lambda: stores.conversations.recent(10, owner=OWNER),
            lambda: stores.spend.day_total("2026-11-30", "USD"),
            lambda: stores.uploads.describe("file-odd"),
        ]
        for call in calls:
            with pytest.raises(StoreError, match="store_key_prefix"):
                await call()
    finally:
        await stores.aclose()


async def test_the_three_stores_of_a_process_share_one_connection(redis_url: str) -> None:
    stores = stores_at(redis_url)
    try:
        conversation = new_conversation(MODEL, None, owner=OWNER)
        await stores.conversations.append(conversation, [Turn("user", "q")], MODEL, [])
        await stores.uploads.find(SHA, "file-extract")
        await stores.spend.record("2026-11-30", "USD", Spend(1.0))
        async with Redis.from_url(redis_url) as raw:
            clients = await raw.client_list()
        assert len(clients) == 2  # the stores' one connection, and this one asking
    finally:
        await stores.aclose()
