"""Token counts in one SQLite file of the data directory, shared by the processes using it."""

import sqlite3
import time
from pathlib import Path

import anyio.to_thread

from kimi_mcp.store.sqlite_file import Mark, SqliteFile
from kimi_mcp.store.token_counts import KEEP_DAYS, MAX_ENTRIES

_SCHEMA = """
CREATE TABLE IF NOT EXISTS token_counts (
    key TEXT PRIMARY KEY, tokens INTEGER NOT NULL, stored_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS token_counts_by_age ON token_counts (stored_at);
"""
MARK = Mark(application_id=0x4B4D4354, version=1)  # "KMCT"
PRUNE_EVERY = 1000  # puts between two prunes (a prune is one indexed DELETE)


class SqliteTokenCountStore:
    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path, _SCHEMA, MARK)
        self._connect = self._file.connect
        self._puts = 0

    async def check(self) -> None:
        await anyio.to_thread.run_sync(self._file.check)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._file.close)

    async def get_many(self, keys: list[str]) -> dict[str, int]:
        return await anyio.to_thread.run_sync(self._get_many, keys) if keys else {}

    def _get_many(self, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with self._connect() as db:
            for start in range(0, len(keys), 500):  # SQLite's bound on host parameters
                chunk = keys[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key, tokens FROM token_counts WHERE key IN ({marks})", chunk
                )
                found.update({key: int(tokens) for key, tokens in rows})
        return found

    async def put_many(self, counts: dict[str, int]) -> None:
        if counts:
            await anyio.to_thread.run_sync(self.put_many_blocking, counts)

    def put_many_blocking(self, counts: dict[str, int]) -> None:
        """`put_many` on the calling thread (a worker thread: sqlite3 blocks)."""
        now = time.time()
        self._puts += len(counts)
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO token_counts (key, tokens, stored_at) VALUES (?, ?, ?)",
                [(key, tokens, now) for key, tokens in counts.items()],
            )
            if self._puts >= PRUNE_EVERY:
                self._puts = 0
                _prune(db, now)


def _prune(db: sqlite3.Connection, now: float) -> None:
    db.execute("DELETE FROM token_counts WHERE stored_at < ?", (now - KEEP_DAYS * 86_400,))
    db.execute(
        "DELETE FROM token_counts WHERE key IN (SELECT key FROM token_counts "
        "ORDER BY stored_at DESC LIMIT -1 OFFSET ?)",
        (MAX_ENTRIES,),
    )
