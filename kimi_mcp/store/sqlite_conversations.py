"""The embedded conversation store: stdlib sqlite3, one file in the data directory.

sqlite3 is blocking, so every call runs on a worker thread: one per call, a load included (it
reads only the turns its cache lacks, see `conversation_cache`). Turns become rows and back in
`sqlite_rows`, which keeps text exactly.
"""

import json
import sqlite3
import time
from pathlib import Path
from typing import cast

import anyio.to_thread

from kimi_mcp.store.conversation_cache import CachedTurns, ConversationCache
from kimi_mcp.store.conversations import (
    DEFAULT_OWNER,
    Conversation,
    ConversationSummary,
    EndReason,
    Turn,
    ended_meanwhile,
    unknown_conversation,
)
from kimi_mcp.store.sqlite_file import Mark, SqliteFile
from kimi_mcp.store.sqlite_rows import opt_text, prefix, row_of, stored, turn_of

# Version 1 added owners (a store of version 0, no mark, keeps its rows for the default owner);
# version 2 added tool rounds (tool_calls, tool_call_id) and kimi-k3's reasoning_effort.
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, model TEXT NOT NULL, system TEXT, file_ids TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT '{DEFAULT_OWNER}', reasoning_effort TEXT);
CREATE INDEX IF NOT EXISTS conversations_by_owner ON conversations (owner, updated_at);
CREATE INDEX IF NOT EXISTS conversations_by_age ON conversations (updated_at);
CREATE TABLE IF NOT EXISTS ended (
    id TEXT PRIMARY KEY, reason TEXT NOT NULL, at REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT '{DEFAULT_OWNER}');
CREATE INDEX IF NOT EXISTS ended_by_age ON ended (at);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, reasoning TEXT,
    tool_calls TEXT, tool_call_id TEXT,
    PRIMARY KEY (conversation_id, seq));
"""


_ADDED_COLUMNS = (  # (table, column, its declaration), in the order the versions added them
    ("conversations", "owner", f"TEXT NOT NULL DEFAULT '{DEFAULT_OWNER}'"),
    ("ended", "owner", f"TEXT NOT NULL DEFAULT '{DEFAULT_OWNER}'"),
    ("conversations", "reasoning_effort", "TEXT"),
    ("turns", "tool_calls", "TEXT"),
    ("turns", "tool_call_id", "TEXT"),
)


def _add_columns(db: sqlite3.Connection, version: int) -> None:
    """Any older version -> 2: add the columns it lacks (every old row belongs to the default
    owner and holds no tool round)."""
    for table, column, declaration in _ADDED_COLUMNS:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if columns and column not in columns:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")


MARK = Mark(application_id=0x4B4D4343, version=2, migrate=_add_columns)  # "KMCC"
DAY = 86_400.0
TOMBSTONE_DAYS = 365  # how long "deleted"/"expired" is remembered before an id is just unknown
FIRST_PROMPT_CHARS = 120


class SqliteConversationStore:
    """`ttl_days` after its last turn a conversation expires (0: never); expired and deleted ids
    are remembered for a year, so a caller learns why its id stopped working."""

    def __init__(self, path: Path, *, ttl_days: float = 0) -> None:
        self._file = SqliteFile(path, _SCHEMA, MARK)
        self._connect = self._file.connect
        self._ttl = ttl_days * DAY
        self._next_purge = 0.0
        self._cache = ConversationCache()  # used inside `_connect` only: under the file's lock

    async def check(self) -> None:
        await anyio.to_thread.run_sync(self._file.check)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._file.close)  # waits for a call in flight

    async def load(self, conversation_id: str, *, owner: str) -> Conversation:
        found = await anyio.to_thread.run_sync(self._select, conversation_id, owner)
        if not isinstance(found, Conversation):
            raise unknown_conversation(conversation_id, found)
        return found

    def _select(self, conversation_id: str, owner: str) -> Conversation | EndReason | None:
        """The conversation's row, then only the turns after the ones cached (a delete, an
        expiry or another process's turns are seen: the row and the new turns are read in one
        transaction, the same `BEGIN IMMEDIATE` that `check` takes, so a load checks too)."""
        with self._connect() as db:
            self._purge(db)
            row = db.execute(
                "SELECT model, system, file_ids, updated_at, reasoning_effort, created_at "
                "FROM conversations WHERE id = ? AND owner = ?",
                (conversation_id, owner),
            ).fetchone()
            if row is None:
                self._cache.drop(conversation_id)
                return _ended(db, conversation_id, owner)
            if self._ttl and row[3] < time.time() - self._ttl:  # idle past the TTL, not purged yet
                self._cache.drop(conversation_id)
                db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
                _bury(db, [(conversation_id, owner)], "expired")
                return "expired"
            cached = self._cached_turns(db, conversation_id, repr(row[5]))
        return Conversation(
            conversation_id,
            row[0],
            opt_text(row[1]),
            list(cached.turns),
            json.loads(row[2]),
            owner,
            row[4],
        )

    def _cached_turns(
        self, db: sqlite3.Connection, conversation_id: str, created: str
    ) -> CachedTurns:
        """Every turn, read from the store only from the first one not cached yet."""
        cached = self._cache.get(conversation_id, created)
        rows = db.execute(
            "SELECT seq, role, content, reasoning, tool_calls, tool_call_id FROM turns "
            "WHERE conversation_id = ? AND seq >= ? ORDER BY seq",
            (conversation_id, cached.next),
        ).fetchall()
        if not rows:
            return cached
        new = [turn_of(*columns) for _, *columns in rows]
        return self._cache.extend(conversation_id, cached, created, rows[-1][0] + 1, new)

    async def append(
        self, conversation: Conversation, turns: list[Turn], model: str, file_ids: list[str]
    ) -> None:
        await anyio.to_thread.run_sync(self.append_blocking, conversation, turns, model, file_ids)

    def append_blocking(
        self, conversation: Conversation, turns: list[Turn], model: str, file_ids: list[str]
    ) -> None:
        """`append` on the calling thread (a worker thread: sqlite3 blocks)."""
        conversation_id, owner = conversation.id, conversation.owner
        now = time.time()
        with self._connect() as db:  # one transaction: the tombstone check, the merge, the turns
            ended = db.execute("SELECT owner, reason FROM ended WHERE id = ?", (conversation_id,))
            tombstone = ended.fetchone()
            if tombstone is not None:  # deleted or expired while Kimi answered: stays gone
                reason = cast(EndReason, tombstone[1]) if tombstone[0] == owner else None
                raise ended_meanwhile(conversation_id, reason)
            row = db.execute(
                "SELECT owner, file_ids FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is not None and row[0] != owner:
                raise ended_meanwhile(conversation_id, None)
            kept = json.loads(row[1]) if row else []
            merged = list(dict.fromkeys([*kept, *file_ids]))  # concurrent calls keep theirs too
            db.execute(
                "INSERT INTO conversations (id, model, system, file_ids, created_at, updated_at, "
                "owner, reasoning_effort) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO "
                "UPDATE SET model = excluded.model, file_ids = excluded.file_ids, "
                "updated_at = excluded.updated_at, reasoning_effort = excluded.reasoning_effort",
                (
                    conversation_id,
                    model,
                    stored(conversation.system),
                    json.dumps(merged),
                    now,
                    now,
                    owner,
                    conversation.reasoning_effort,
                ),
            )
            (last,) = db.execute(
                "SELECT COALESCE(MAX(seq), -1) FROM turns WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            db.executemany(
                "INSERT INTO turns (conversation_id, seq, role, content, reasoning, tool_calls, "
                "tool_call_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(conversation_id, last + 1 + i, *row_of(t)) for i, t in enumerate(turns)],
            )

    async def recent(self, limit: int, *, owner: str) -> list[ConversationSummary]:
        return await anyio.to_thread.run_sync(self._recent, limit, owner)

    def _recent(self, limit: int, owner: str) -> list[ConversationSummary]:
        """The newest `limit` of the owner's conversations, read through the (owner, updated_at)
        index: the rows listed and their first question only, whatever the store holds. One idle
        past the TTL is never listed, even before the purge (once a minute) has buried it."""
        live_since = time.time() - self._ttl if self._ttl else float("-inf")
        with self._connect() as db:
            self._purge(db)
            rows = db.execute(
                "SELECT c.id, c.model, c.updated_at, "
                "(SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id), "
                "(SELECT substr(content, 1, ?) FROM turns t WHERE t.conversation_id = c.id "
                "AND t.role = 'user' ORDER BY seq LIMIT 1) "
                "FROM conversations c WHERE c.owner = ? AND c.updated_at >= ? "
                "ORDER BY c.updated_at DESC LIMIT ?",
                (FIRST_PROMPT_CHARS * 4, owner, live_since, limit),  # 4 bytes a character
            ).fetchall()
        return [
            ConversationSummary(r[0], r[1], r[3], r[2], prefix(r[4], FIRST_PROMPT_CHARS))
            for r in rows
        ]

    async def delete(self, conversation_id: str, *, owner: str) -> None:
        deleted, ended = await anyio.to_thread.run_sync(self._delete, conversation_id, owner)
        if not deleted:
            raise unknown_conversation(conversation_id, ended)

    def _delete(self, conversation_id: str, owner: str) -> tuple[bool, EndReason | None]:
        with self._connect() as db:
            self._purge(db)
            gone = db.execute(
                "DELETE FROM conversations WHERE id = ? AND owner = ?", (conversation_id, owner)
            )
            if gone.rowcount == 0:
                return False, _ended(db, conversation_id, owner)
            self._cache.drop(conversation_id)
            _bury(db, [(conversation_id, owner)], "deleted")
        return True, None

    def _purge(self, db: sqlite3.Connection) -> None:
        """Expire conversations idle past the TTL; at most once a minute, inside `db`'s lock."""
        now = time.time()
        if not self._ttl or now < self._next_purge:
            return
        self._next_purge = now + 60
        expired = db.execute(
            "SELECT id, owner FROM conversations WHERE updated_at < ?", (now - self._ttl,)
        ).fetchall()
        db.executemany("DELETE FROM conversations WHERE id = ?", [(i,) for i, _ in expired])
        _bury(db, expired, "expired")
        db.execute("DELETE FROM ended WHERE at < ?", (now - TOMBSTONE_DAYS * DAY,))


def _ended(db: sqlite3.Connection, conversation_id: str, owner: str) -> EndReason | None:
    row = db.execute(
        "SELECT reason FROM ended WHERE id = ? AND owner = ?", (conversation_id, owner)
    ).fetchone()
    return None if row is None else cast(EndReason, row[0])


def _bury(db: sqlite3.Connection, ids: list[tuple[str, str]], reason: EndReason) -> None:
    now = time.time()
    db.executemany(
        "INSERT OR REPLACE INTO ended (id, reason, at, owner) VALUES (?, ?, ?, ?)",
        [(i, reason, now, owner) for i, owner in ids],
    )
