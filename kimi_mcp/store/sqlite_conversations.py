"""The embedded conversation store: stdlib sqlite3, one file in the data directory.

sqlite3 is blocking, so every call runs on a worker thread.
"""

import json
import sqlite3
import time
from pathlib import Path
from typing import cast

import anyio.to_thread

from kimi_mcp.store.conversations import (
    Conversation,
    ConversationSummary,
    EndReason,
    Turn,
    unknown_conversation,
)
from kimi_mcp.store.sqlite_file import SqliteFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, model TEXT NOT NULL, system TEXT, file_ids TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ended (
    id TEXT PRIMARY KEY, reason TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, reasoning TEXT,
    PRIMARY KEY (conversation_id, seq));
"""

DAY = 86_400.0
TOMBSTONE_DAYS = 365  # how long "deleted"/"expired" is remembered before an id is just unknown


class SqliteConversationStore:
    """`ttl_days` after its last turn a conversation expires (0: never); expired and deleted ids
    are remembered for a year, so a caller learns why its id stopped working."""

    def __init__(self, path: Path, *, ttl_days: float = 0) -> None:
        self._file = SqliteFile(path, _SCHEMA)
        self._connect = self._file.connect
        self._ttl = ttl_days * DAY
        self._next_purge = 0.0

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._file.close)  # waits for a call in flight

    async def load(self, conversation_id: str) -> Conversation:
        found = await anyio.to_thread.run_sync(self._select, conversation_id)
        if not isinstance(found, Conversation):
            raise unknown_conversation(conversation_id, found)
        return found

    def _select(self, conversation_id: str) -> Conversation | EndReason | None:
        with self._connect() as db:
            self._purge(db)
            row = db.execute(
                "SELECT model, system, file_ids, updated_at FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            if row is None:
                return _ended(db, conversation_id)
            if self._ttl and row[3] < time.time() - self._ttl:  # idle past the TTL, not purged yet
                db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
                _bury(db, [conversation_id], "expired")
                return "expired"
            turns = db.execute(
                "SELECT role, content, reasoning FROM turns WHERE conversation_id = ? ORDER BY seq",
                (conversation_id,),
            ).fetchall()
        turn_list = [Turn(*turn) for turn in turns]
        return Conversation(conversation_id, row[0], row[1], turn_list, json.loads(row[2]))

    async def append(
        self, conversation: Conversation, turns: list[Turn], model: str, file_ids: list[str]
    ) -> None:
        await anyio.to_thread.run_sync(self._append, conversation, turns, model, file_ids)

    def _append(
        self, conversation: Conversation, turns: list[Turn], model: str, file_ids: list[str]
    ) -> None:
        conversation_id = conversation.id
        now = time.time()
        with self._connect() as db:  # one transaction: the conversation and its new turns
            db.execute(
                "INSERT OR IGNORE INTO conversations VALUES (?, ?, ?, ?, ?, ?)",
                (conversation_id, model, conversation.system, "[]", now, now),
            )
            (count,) = db.execute(
                "SELECT COUNT(*) FROM turns WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            db.executemany(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?)",
                [
                    (conversation_id, count + i, t.role, t.content, t.reasoning)
                    for i, t in enumerate(turns)
                ],
            )
            db.execute(
                "UPDATE conversations SET updated_at = ?, model = ?, file_ids = ? WHERE id = ?",
                (now, model, json.dumps(file_ids), conversation_id),
            )

    async def recent(self, limit: int) -> list[ConversationSummary]:
        return await anyio.to_thread.run_sync(self._recent, limit)

    def _recent(self, limit: int) -> list[ConversationSummary]:
        with self._connect() as db:
            self._purge(db)
            rows = db.execute(
                "SELECT c.id, c.model, c.updated_at, "
                "(SELECT COUNT(*) FROM turns t WHERE t.conversation_id = c.id), "
                "(SELECT substr(content, 1, 120) FROM turns t WHERE t.conversation_id = c.id "
                "AND t.role = 'user' ORDER BY seq LIMIT 1) "
                "FROM conversations c ORDER BY c.updated_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [ConversationSummary(r[0], r[1], r[3], r[2], r[4] or "") for r in rows]

    async def delete(self, conversation_id: str) -> None:
        deleted, ended = await anyio.to_thread.run_sync(self._delete, conversation_id)
        if not deleted:
            raise unknown_conversation(conversation_id, ended)

    def _delete(self, conversation_id: str) -> tuple[bool, EndReason | None]:
        with self._connect() as db:
            self._purge(db)
            gone = db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
            if gone.rowcount == 0:
                return False, _ended(db, conversation_id)
            _bury(db, [conversation_id], "deleted")
        return True, None

    def _purge(self, db: sqlite3.Connection) -> None:
        """Expire conversations idle past the TTL; at most once a minute, inside `db`'s lock."""
        now = time.time()
        if not self._ttl or now < self._next_purge:
            return
        self._next_purge = now + 60
        expired = [
            row[0]
            for row in db.execute(
                "SELECT id FROM conversations WHERE updated_at < ?", (now - self._ttl,)
            )
        ]
        db.executemany("DELETE FROM conversations WHERE id = ?", [(i,) for i in expired])
        _bury(db, expired, "expired")
        db.execute("DELETE FROM ended WHERE at < ?", (now - TOMBSTONE_DAYS * DAY,))


def _ended(db: sqlite3.Connection, conversation_id: str) -> EndReason | None:
    row = db.execute("SELECT reason FROM ended WHERE id = ?", (conversation_id,)).fetchone()
    return None if row is None else cast(EndReason, row[0])


def _bury(db: sqlite3.Connection, ids: list[str], reason: EndReason) -> None:
    now = time.time()
    db.executemany("INSERT OR REPLACE INTO ended VALUES (?, ?, ?)", [(i, reason, now) for i in ids])
