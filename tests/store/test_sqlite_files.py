"""The SQLite files of the store: a file that is not ours is refused unchanged, old stores are
adopted, and every failure is a StoreError naming the file and the fix (never "a kimi-mcp bug")."""

import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from kimi_mcp.errors import StoreError
from kimi_mcp.store.conversations import DEFAULT_OWNER, Turn, new_conversation
from kimi_mcp.store.sqlite_conversations import SqliteConversationStore
from kimi_mcp.store.sqlite_uploads import SqliteUploadLedger

pytestmark = pytest.mark.anyio
MODEL = "kimi-k2.6"

# The schema kimi-mcp wrote before stores carried a mark or owners (commit 8acb673).
LEGACY_SCHEMA = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY, model TEXT NOT NULL, system TEXT, file_ids TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE ended (id TEXT PRIMARY KEY, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, reasoning TEXT,
    PRIMARY KEY (conversation_id, seq));
INSERT INTO conversations VALUES ('conv_old', 'kimi-k2.6', 'Be brief.', '["file-a"]', 1, 1e12);
INSERT INTO turns VALUES ('conv_old', 0, 'user', 'kept question', NULL);
INSERT INTO turns VALUES ('conv_old', 1, 'assistant', 'kept answer', 'why');
"""


def _foreign_database(path: Path) -> bytes:
    """Another program's SQLite file (rollback journal, its own table); returns its bytes."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('mine')")
    db.close()
    return path.read_bytes()


async def _use_conversations(path: Path) -> None:
    store = SqliteConversationStore(path)
    try:
        await store.recent(10, owner=DEFAULT_OWNER)
    finally:
        await store.aclose()


async def _use_ledger(path: Path) -> None:
    ledger = SqliteUploadLedger(path)
    try:
        await ledger.find("ab" * 32, "file-extract")
    finally:
        await ledger.aclose()


USES: list[Callable[[Path], Awaitable[None]]] = [_use_conversations, _use_ledger]


@pytest.mark.parametrize("use", USES, ids=["conversations", "ledger"])
async def test_a_foreign_sqlite_file_at_the_store_path_is_refused_and_never_modified(
    tmp_path: Path, use: Callable[[Path], Awaitable[None]]
) -> None:
    path = tmp_path / "store.sqlite3"
    before = _foreign_database(path)
    mode = path.stat().st_mode
    with pytest.raises(StoreError) as refused:
        await use(path)
    message = str(refused.value)
    assert str(path) in message and "another program's SQLite database" in message
    assert "rename it to store.sqlite3.bak" in message and "KIMI_MCP_DATA_DIR" in message
    assert path.read_bytes() == before and path.stat().st_mode == mode
    assert not path.with_name("store.sqlite3-wal").exists()  # never switched to WAL


@pytest.mark.parametrize(
    ("use", "table"),
    [(_use_conversations, "conversations"), (_use_ledger, "uploads")],
    ids=["conversations", "ledger"],
)
async def test_a_foreign_file_whose_table_only_shares_our_name_is_refused_unchanged(
    tmp_path: Path, use: Callable[[Path], Awaitable[None]], table: str
) -> None:
    """A foreign database was taken for a store from before the mark when its table names were
    a subset of ours, and then migrated (changed)."""
    path = tmp_path / "store.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE {table} (id TEXT, title TEXT)")
        db.execute(f"INSERT INTO {table} VALUES ('1', 'someone else''s row')")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another program's SQLite database"):
        await use(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("use", USES, ids=["conversations", "ledger"])
@pytest.mark.parametrize("content", [b"not a database at all\n" * 100, b"SQLite format 3\x00junk"])
async def test_a_corrupt_store_file_is_a_store_error_naming_the_file_and_the_fix(
    tmp_path: Path, use: Callable[[Path], Awaitable[None]], content: bytes
) -> None:
    path = tmp_path / "store.sqlite3"
    path.write_bytes(content)
    with pytest.raises(StoreError, match="not a SQLite database, or it is damaged") as refused:
        await use(path)
    assert str(path) in str(refused.value) and "Move it aside" in str(refused.value)
    assert path.read_bytes() == content


@pytest.mark.parametrize("use", USES, ids=["conversations", "ledger"])
async def test_a_directory_at_the_store_path_is_a_store_error(
    tmp_path: Path, use: Callable[[Path], Awaitable[None]]
) -> None:
    path = tmp_path / "store.sqlite3"
    path.mkdir()
    with pytest.raises(StoreError, match="not a regular file") as refused:
        await use(path)
    assert str(path) in str(refused.value)


async def test_an_unwritable_data_dir_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("a file where the data directory should be")  # holds even for root
    with pytest.raises(StoreError, match="KIMI_MCP_DATA_DIR") as refused:
        await _use_conversations(blocker / "conversations.sqlite3")
    assert str(blocker / "conversations.sqlite3") in str(refused.value)


async def test_a_store_from_before_the_mark_is_adopted_with_its_rows_for_the_default_owner(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conversations.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(LEGACY_SCHEMA)
    db.close()
    store = SqliteConversationStore(path)
    try:
        old = await store.load("conv_old", owner=DEFAULT_OWNER)
        assert (old.system, old.file_ids) == ("Be brief.", ["file-a"])
        assert old.turns == [Turn("user", "kept question"), Turn("assistant", "kept answer", "why")]
        await store.append(old, [Turn("user", "more")], MODEL, ["file-b"])
        await store.delete("conv_old", owner=DEFAULT_OWNER)
    finally:
        await store.aclose()
    with sqlite3.connect(path) as db:
        marks = [
            db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("application_id", "user_version")
        ]
    db.close()
    assert marks == [0x4B4D4343, 2]


async def test_a_version_1_store_keeps_its_turns_and_takes_tool_rounds_after_migration(
    tmp_path: Path,
) -> None:
    path = tmp_path / "conversations.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(LEGACY_SCHEMA)
        db.execute("ALTER TABLE conversations ADD COLUMN owner TEXT NOT NULL DEFAULT 'default'")
        db.execute("ALTER TABLE ended ADD COLUMN owner TEXT NOT NULL DEFAULT 'default'")
        db.execute("PRAGMA application_id = 1263354691")
        db.execute("PRAGMA user_version = 1")
    db.close()
    store = SqliteConversationStore(path)
    call = {"id": "web_search:0", "type": "function", "function": {"name": "web_search"}}
    round_turns = [
        Turn("user", "search"),
        Turn("assistant", "", "why", tool_calls=[call]),
        Turn("tool", "----MOONSHOT ENCRYPTED BEGIN----x", tool_call_id="web_search:0"),
        Turn("assistant", "found it"),
    ]
    try:
        old = await store.load("conv_old", owner=DEFAULT_OWNER)
        assert old.reasoning_effort is None
        await store.append(replace(old, reasoning_effort="low"), round_turns, MODEL, [])
        again = await store.load("conv_old", owner=DEFAULT_OWNER)
    finally:
        await store.aclose()
    assert again.turns[:2] == old.turns and again.turns[2:] == round_turns
    assert again.reasoning_effort == "low"


async def test_a_store_from_a_newer_kimi_mcp_is_refused_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite3"
    await _use_conversations(path)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer kimi-mcp") as refused:
        await _use_conversations(path)
    assert "Upgrade kimi-mcp" in str(refused.value)
    assert path.read_bytes() == before


async def test_a_new_store_file_is_owner_only_and_marked(tmp_path: Path) -> None:
    path = tmp_path / "conversations.sqlite3"
    store = SqliteConversationStore(path)
    try:
        await store.check()
        conversation = new_conversation(MODEL, None, owner=DEFAULT_OWNER)
        await store.append(conversation, [Turn("user", "q")], MODEL, [])
    finally:
        await store.aclose()
    assert path.stat().st_mode & 0o777 == 0o600
    await _use_conversations(path)  # ours: opened again without complaint


async def test_stores_opening_one_fresh_file_at_once_all_take_it_as_theirs(tmp_path: Path) -> None:
    """Several processes (here: connections on threads) setting up one new file at once: each
    must see either an empty file or a marked one, never another program's database."""
    refused: list[str] = []
    for attempt in range(40):
        path = tmp_path / f"fresh-{attempt}.sqlite3"
        stores = [SqliteConversationStore(path) for _ in range(6)]

        async def check(store: SqliteConversationStore) -> None:
            try:
                await store.check()
            except StoreError as exc:
                refused.append(str(exc))

        try:
            async with anyio.create_task_group() as group:
                for store in stores:
                    group.start_soon(check, store)
        finally:
            for store in stores:
                await store.aclose()
    assert refused == []
