"""The embedded upload ledger: stdlib sqlite3, one file in the data directory.

Its failures are `StoreError`s naming the file and the fix (`sqlite_file` translates them).
"""

import time
from pathlib import Path

import anyio.to_thread

from kimi_mcp.store.claim_tokens import lapsed, new_token
from kimi_mcp.store.sqlite_file import Mark, SqliteFile
from kimi_mcp.store.uploads import LedgerEntry

_SCHEMA = """
CREATE TABLE IF NOT EXISTS uploads (
    sha256 TEXT NOT NULL, purpose TEXT NOT NULL, file_id TEXT NOT NULL UNIQUE,
    filename TEXT NOT NULL, bytes INTEGER NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (sha256, purpose));
CREATE TABLE IF NOT EXISTS contents (file_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (file_id TEXT PRIMARY KEY, path TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS claims (
    sha256 TEXT NOT NULL, purpose TEXT NOT NULL, token TEXT NOT NULL UNIQUE,
    expires_at REAL NOT NULL, PRIMARY KEY (sha256, purpose));
"""
MARK = Mark(application_id=0x4B4D4355, version=1)  # "KMCU"; version 0: written before the mark


class SqliteUploadLedger:
    """The ledger in one SQLite file of the data directory (calls run on a worker thread)."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path, _SCHEMA, MARK)
        self._connect = self._file.connect

    async def check(self) -> None:
        """Open the file and take its write lock once: usable, or StoreError saying the fix."""
        await anyio.to_thread.run_sync(self._file.check)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._file.close)  # waits for a call in flight

    async def find(self, sha256: str, purpose: str) -> LedgerEntry | None:
        return await anyio.to_thread.run_sync(self._find, sha256, purpose)

    def _find(self, sha256: str, purpose: str) -> LedgerEntry | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT sha256, purpose, file_id, filename, bytes FROM uploads "
                "WHERE sha256 = ? AND purpose = ?",
                (sha256, purpose),
            ).fetchone()
        return LedgerEntry(*row) if row else None

    async def record(self, entry: LedgerEntry, source: Path) -> None:
        """Remember an upload and the local path it came from (for the delete audit line)."""
        await anyio.to_thread.run_sync(self._record, entry, source)

    def _record(self, entry: LedgerEntry, source: Path) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO sources VALUES (?, ?)", (entry.file_id, str(source)))
            db.execute(
                "INSERT OR REPLACE INTO uploads VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.sha256,
                    entry.purpose,
                    entry.file_id,
                    entry.filename,
                    entry.bytes,
                    time.time(),
                ),
            )

    async def forget(self, file_id: str) -> None:
        await anyio.to_thread.run_sync(self._forget, file_id)

    def _forget(self, file_id: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM uploads WHERE file_id = ?", (file_id,))
            db.execute("DELETE FROM contents WHERE file_id = ?", (file_id,))
            db.execute("DELETE FROM sources WHERE file_id = ?", (file_id,))

    async def describe(self, file_id: str) -> tuple[LedgerEntry, str | None] | None:
        """The entry of `file_id` and its local source path, if this machine uploaded it."""
        return await anyio.to_thread.run_sync(self._describe, file_id)

    def _describe(self, file_id: str) -> tuple[LedgerEntry, str | None] | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT u.sha256, u.purpose, u.file_id, u.filename, u.bytes, s.path "
                "FROM uploads u LEFT JOIN sources s ON s.file_id = u.file_id WHERE u.file_id = ?",
                (file_id,),
            ).fetchone()
        return (LedgerEntry(*row[:5]), row[5]) if row else None

    async def claim(self, sha256: str, purpose: str, *, seconds: float) -> str | None:
        """A claim token, or None while another live claim holds this content (see
        `UploadLedger.claim`); wall-clock expiry, since the clock is shared across processes."""
        token = new_token()
        return await anyio.to_thread.run_sync(self._claim, sha256, purpose, token, seconds)

    def _claim(self, sha256: str, purpose: str, token: str, seconds: float) -> str | None:
        now = time.time()
        # Every transaction starts with the write lock (BEGIN IMMEDIATE, sqlite_file): another
        # process's check and take cannot slip in between.
        with self._connect() as db:
            row = db.execute(
                "SELECT token, expires_at FROM claims WHERE sha256 = ? AND purpose = ?",
                (sha256, purpose),
            ).fetchone()
            if row is not None and not lapsed(row[0], row[1], now):
                return None
            db.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?)",
                (sha256, purpose, token, now + seconds),
            )
        return token

    async def release(self, claim: str) -> None:
        await anyio.to_thread.run_sync(self._release, claim)

    def _release(self, claim: str) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM claims WHERE token = ?", (claim,))

    async def cached_body(self, file_id: str) -> str | None:
        return await anyio.to_thread.run_sync(self._cached_body, file_id)

    def _cached_body(self, file_id: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT body FROM contents WHERE file_id = ?", (file_id,)).fetchone()
        return str(row[0]) if row else None

    async def cache_body(self, file_id: str, body: str) -> None:
        await anyio.to_thread.run_sync(self._cache_body, file_id, body)

    def _cache_body(self, file_id: str, body: str) -> None:
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO contents VALUES (?, ?)", (file_id, body))
