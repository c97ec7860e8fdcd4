"""The embedded spend ledger: stdlib sqlite3, one file in the data directory.

Processes sharing the data directory add to the same day: each record is one `BEGIN IMMEDIATE`
upsert, so none is lost. Failures are `StoreError`s naming the file and the fix.
"""

from pathlib import Path

import anyio.to_thread

from kimi_mcp.store.spend import Spend
from kimi_mcp.store.sqlite_file import Mark, SqliteFile

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
    day TEXT NOT NULL, currency TEXT NOT NULL, amount REAL NOT NULL,
    cached_tokens INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL, searches INTEGER NOT NULL, calls INTEGER NOT NULL,
    PRIMARY KEY (day, currency));
"""
MARK = Mark(application_id=0x4B4D4353, version=1)  # "KMCS"
_COLUMNS = ("amount", "cached_tokens", "prompt_tokens", "completion_tokens", "searches", "calls")


class SqliteSpendLedger:
    """The ledger in one SQLite file of the data directory (calls run on a worker thread)."""

    def __init__(self, path: Path) -> None:
        self._file = SqliteFile(path, _SCHEMA, MARK)
        self._connect = self._file.connect

    async def check(self) -> None:
        """Open the file and take its write lock once: usable, or StoreError saying the fix."""
        await anyio.to_thread.run_sync(self._file.check)

    async def aclose(self) -> None:
        await anyio.to_thread.run_sync(self._file.close)

    async def record(self, day: str, currency: str, spend: Spend) -> None:
        await anyio.to_thread.run_sync(self.record_blocking, day, currency, spend)

    def record_blocking(self, day: str, currency: str, spend: Spend) -> None:
        """`record` on the calling thread (a worker thread: sqlite3 blocks)."""
        values = [getattr(spend, column) for column in _COLUMNS]
        added = ", ".join(f"{column} = {column} + excluded.{column}" for column in _COLUMNS)
        with self._connect() as db:
            db.execute(
                f"INSERT INTO spend (day, currency, {', '.join(_COLUMNS)}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT (day, currency) DO UPDATE SET {added}",
                (day, currency, *values),
            )

    async def day_total(self, day: str, currency: str) -> Spend:
        return await anyio.to_thread.run_sync(self._day_total, day, currency)

    def _day_total(self, day: str, currency: str) -> Spend:
        with self._connect() as db:
            row = db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM spend WHERE day = ? AND currency = ?",
                (day, currency),
            ).fetchone()
        return Spend(*row) if row else Spend(0.0, calls=0)
