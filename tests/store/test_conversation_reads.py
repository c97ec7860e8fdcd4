"""A load reads the turns added since the last one and a listing reads the rows it lists, not
the whole store; a conversation held in memory never hides what another process did to it.

The counts are SQLite's own (the statements a call ran, as its trace callback saw them, then
their query plans and the rows they return) and the bytes Redis sent: deterministic, no timing.
"""

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from redis.asyncio import Redis

from kimi_mcp.errors import InputError
from kimi_mcp.store.conversations import DEFAULT_OWNER, Turn, new_conversation
from kimi_mcp.store.open import open_stores
from kimi_mcp.store.sqlite_conversations import SqliteConversationStore
from tests.store.test_interfaces import MODEL, OpenConversations, open_conversations

pytestmark = pytest.mark.anyio
OWNER = DEFAULT_OWNER
HISTORY = [Turn("assistant" if i % 2 else "user", f"turn {i} " + "x" * 500) for i in range(200)]
__all__ = ["open_conversations"]  # the fixture, shared with the interface tests


async def traced(store: SqliteConversationStore) -> tuple[sqlite3.Connection, list[str]]:
    """The store's own connection, and a list of every statement it runs from now on."""
    await store.check()  # opens the connection
    statements: list[str] = []
    with store._connect() as db:
        db.set_trace_callback(statements.append)
    statements.clear()  # the COMMIT of the block above
    return db, statements


def rows_returned(db: sqlite3.Connection, statements: list[str], table: str) -> int:
    """The rows the SELECTs on `table` among `statements` returned (run again: same data)."""
    db.set_trace_callback(None)
    selects = [s for s in statements if s.startswith("SELECT") and f"FROM {table}" in s]
    return sum(len(db.execute(select).fetchall()) for select in selects)


async def test_a_load_reads_only_the_turns_added_since_the_last_one(tmp_path: Path) -> None:
    store = SqliteConversationStore(tmp_path / "c.sqlite3")
    try:
        conversation = new_conversation(MODEL, None, owner=OWNER)
        await store.append(conversation, HISTORY, MODEL, [])
        await store.load(conversation.id, owner=OWNER)  # the first load reads all 200
        await store.append(conversation, [Turn("user", "new"), Turn("assistant", "ok")], MODEL, [])
        db, statements = await traced(store)
        kept = await store.load(conversation.id, owner=OWNER)
        assert kept.turns == [*HISTORY, Turn("user", "new"), Turn("assistant", "ok")]
        assert rows_returned(db, statements, "turns") == 2
    finally:
        await store.aclose()


async def test_a_load_on_redis_receives_only_the_turns_added_since_the_last_one(
    redis_url: str,
) -> None:
    stores = open_stores(redis_url, data_dir=Path("unused"))
    store = stores.conversations
    try:
        conversation = new_conversation(MODEL, None, owner=OWNER)
        await store.append(conversation, HISTORY, MODEL, [])
        async with Redis.from_url(redis_url) as raw:

            async def sent_by_redis() -> int:
                return int((await raw.info("stats"))["total_net_output_bytes"])

            before = await sent_by_redis()
            await store.load(conversation.id, owner=OWNER)
            first = await sent_by_redis() - before
            await store.append(conversation, [Turn("user", "new")], MODEL, [])
            before = await sent_by_redis()
            kept = await store.load(conversation.id, owner=OWNER)
            second = await sent_by_redis() - before
        assert kept.turns == [*HISTORY, Turn("user", "new")]
        assert first > 100_000  # the whole history once
        assert second < 5_000  # then the new turn, the record and the INFO reply itself
    finally:
        await stores.aclose()


async def test_a_listing_reads_through_indexes_only_and_returns_only_its_rows(
    tmp_path: Path,
) -> None:
    """The first listing of a process also purges expired conversations and old tombstones:
    that too must read an index, not every conversation the store holds."""
    path = tmp_path / "c.sqlite3"
    writer = SqliteConversationStore(path, ttl_days=30)
    lister = SqliteConversationStore(path, ttl_days=30)  # another process: it purges first
    try:
        for _ in range(30):
            await writer.append(new_conversation(MODEL, None, owner=OWNER), HISTORY[:3], MODEL, [])
        gone = new_conversation(MODEL, None, owner=OWNER)
        await writer.append(gone, HISTORY[:1], MODEL, [])
        await writer.delete(gone.id, owner=OWNER)
        db, statements = await traced(lister)
        assert len(await lister.recent(5, owner=OWNER)) == 5
        plans = [
            detail
            for statement in statements
            if statement.split()[0] in ("SELECT", "DELETE", "UPDATE")
            for *_, detail in db.execute("EXPLAIN QUERY PLAN " + statement)
        ]
        assert plans and not [plan for plan in plans if plan.startswith("SCAN")], plans
        assert rows_returned(db, statements, "conversations c") == 5
    finally:
        await writer.aclose()
        await lister.aclose()


async def test_a_conversation_held_in_memory_shows_what_another_process_did_to_it(
    open_conversations: OpenConversations,
) -> None:
    one, two = await open_conversations(), await open_conversations()
    conversation = new_conversation(MODEL, None, owner=OWNER)
    await one.append(conversation, [Turn("user", "a"), Turn("assistant", "b")], MODEL, [])
    assert [t.content for t in (await two.load(conversation.id, owner=OWNER)).turns] == ["a", "b"]
    await one.append(conversation, [Turn("user", "c")], "kimi-k3", ["file-x"])
    seen = await two.load(conversation.id, owner=OWNER)
    assert [t.content for t in seen.turns] == ["a", "b", "c"]
    assert (seen.model, seen.file_ids) == ("kimi-k3", ["file-x"])
    with pytest.raises(InputError, match="does not exist"):
        await two.load(conversation.id, owner="someone-else")
    await one.delete(conversation.id, owner=OWNER)
    with pytest.raises(InputError, match="was deleted"):
        await two.load(conversation.id, owner=OWNER)


async def test_an_id_made_anew_after_its_keys_expired_unseen_is_loaded_fresh_on_redis(
    redis_url: str,
) -> None:
    """Redis may drop every key of a conversation, its owner's listing included; an append
    then starts it anew under the same id. Turns held in memory from before are not its."""
    stores = open_stores(redis_url, data_dir=Path("unused"), key_prefix="t:")
    store = stores.conversations
    try:
        old = new_conversation(MODEL, None, owner=OWNER)
        await store.append(old, [Turn("user", "old"), Turn("assistant", "old answer")], MODEL, [])
        await store.load(old.id, owner=OWNER)
        async with Redis.from_url(redis_url) as raw:
            await raw.delete(*await raw.keys("t:*"))
        await store.append(replace(old, turns=[]), [Turn("user", "anew")], MODEL, [])
        assert (await store.load(old.id, owner=OWNER)).turns == [Turn("user", "anew")]
    finally:
        await stores.aclose()
