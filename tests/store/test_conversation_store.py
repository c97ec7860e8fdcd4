"""The SQLite conversation store: conversations idle past their TTL expire, TTL 0 keeps them."""

from pathlib import Path

import pytest

from kimi_mcp.errors import InputError
from kimi_mcp.store.conversations import DEFAULT_OWNER, Turn, new_conversation
from kimi_mcp.store.sqlite_conversations import SqliteConversationStore

pytestmark = pytest.mark.anyio
OWNER = DEFAULT_OWNER


async def test_a_conversation_idle_past_its_ttl_expires_with_a_clear_error(
    tmp_path: Path,
) -> None:
    store = SqliteConversationStore(tmp_path / "c.sqlite3", ttl_days=1)
    try:
        stale = new_conversation("kimi-k2.6", None, owner=OWNER)
        fresh = new_conversation("kimi-k2.6", None, owner=OWNER)
        await store.append(stale, [Turn("user", "old")], "kimi-k2.6", [])
        await store.append(fresh, [Turn("user", "new")], "kimi-k2.6", [])
        # Age one conversation by two days, as if the server had been idle that long.
        with store._connect() as db:
            db.execute(
                "UPDATE conversations SET updated_at = updated_at - 2 * 86400 WHERE id = ?",
                (stale.id,),
            )
        with pytest.raises(InputError, match="expired"):
            await store.load(stale.id, owner=OWNER)
        assert (await store.load(fresh.id, owner=OWNER)).turns == [Turn("user", "new")]
        assert [s.id for s in await store.recent(10, owner=OWNER)] == [fresh.id]
    finally:
        await store.aclose()


async def test_expired_conversations_are_purged_from_the_listing(tmp_path: Path) -> None:
    store = SqliteConversationStore(tmp_path / "c.sqlite3", ttl_days=1)
    try:
        stale = new_conversation("kimi-k2.6", None, owner=OWNER)
        await store.append(stale, [Turn("user", "old")], "kimi-k2.6", [])
        with store._connect() as db:
            db.execute("UPDATE conversations SET updated_at = updated_at - 2 * 86400")
        assert await store.recent(10, owner=OWNER) == []
        with pytest.raises(InputError, match="expired"):
            await store.load(stale.id, owner=OWNER)
    finally:
        await store.aclose()


async def test_ttl_zero_keeps_conversations_forever(tmp_path: Path) -> None:
    store = SqliteConversationStore(tmp_path / "c.sqlite3", ttl_days=0)
    try:
        old = new_conversation("kimi-k2.6", None, owner=OWNER)
        await store.append(old, [Turn("user", "ancient")], "kimi-k2.6", [])
        with store._connect() as db:
            db.execute("UPDATE conversations SET updated_at = 0")
        assert (await store.load(old.id, owner=OWNER)).turns == [Turn("user", "ancient")]
    finally:
        await store.aclose()
