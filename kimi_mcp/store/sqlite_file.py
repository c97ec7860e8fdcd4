"""One SQLite file in the data directory, opened on first use (no disk work at start-up).

A file at the path that is not ours is never changed: it is identified first (our mark in
`PRAGMA application_id`, the schema version in `user_version`) and refused unless it is ours, a
store written before the mark existed (only our tables: it is marked and migrated), or empty.
Every SQLite or file-system failure becomes a `StoreError` naming the file and the fix.
"""

import functools
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kimi_mcp.errors import StoreError

Migration = Callable[[sqlite3.Connection, int], None]  # (db, version found) -> latest schema
MOVE_ASIDE = (
    "Move it aside (e.g. rename it to {name}.bak) and kimi-mcp starts a new store there, or set "
    "data_dir (KIMI_MCP_DATA_DIR) to another directory."
)
DATA_DIR_FIX = (
    "Make it and its directory writable by the user running kimi-mcp, or set data_dir "
    "(KIMI_MCP_DATA_DIR) to a writable directory."
)


@dataclass(frozen=True)
class Mark:
    """What makes a file ours: `application_id` (one per kind of store) and the schema version."""

    application_id: int
    version: int
    migrate: Migration | None = None  # from an older version (0: written before the mark)


class SqliteFile:
    """One shared connection; worker threads take turns through a lock (sqlite3 is blocking).

    Every transaction is `BEGIN IMMEDIATE`: it holds the write lock from its first statement, so
    a read and the write that depends on it are atomic across processes sharing the file too.
    """

    def __init__(self, path: Path, schema: str, mark: Mark) -> None:
        self.path = path
        self._schema = schema
        self._mark = mark
        self._tables = frozenset(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", schema))
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A transaction: committed when the block ends, rolled back if it raises.

        Raises:
            StoreError: the file cannot be opened, is not ours, or SQLite failed.
        """
        with self._lock:
            try:
                connection = self._connection or self._open()
                connection.execute("BEGIN IMMEDIATE")
            except (sqlite3.Error, OSError) as exc:
                raise self.error(exc) from exc
            try:
                yield connection
                connection.execute("COMMIT")
            except BaseException as exc:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self.error(exc) from exc
                raise

    def check(self) -> None:
        """Open the file (identifying it) and take its write lock once: usable, or StoreError."""
        with self.connect():
            pass

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def error(self, exc: BaseException) -> StoreError:
        """The clear error for a SQLite or OS failure on this file."""
        if isinstance(exc, StoreError):
            return exc
        text = str(exc).lower()
        if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
            return StoreError(self.path, exc.strerror or str(exc), DATA_DIR_FIX)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return StoreError(self.path, "it cannot be written", DATA_DIR_FIX)
        if "full" in text:
            return StoreError(
                self.path, "the disk is full", "Free some space, or set data_dir to another disk."
            )
        if "locked" in text or "busy" in text:
            return StoreError(
                self.path,
                "another process has held it locked for over 10 seconds",
                "Retry in a moment; if it persists, stop the other kimi-mcp using this data_dir.",
            )
        if "not a database" in text or "malformed" in text or "corrupt" in text:
            return self._refusal("it is not a SQLite database, or it is damaged")
        return StoreError(
            self.path,
            f"SQLite failed ({exc})",
            "Check the disk and the file; if it keeps failing, " + self._aside(),
        )

    def _aside(self) -> str:
        move = MOVE_ASIDE.format(name=self.path.name)
        return move[0].lower() + move[1:]

    def _refusal(self, problem: str) -> StoreError:
        return StoreError(
            self.path,
            problem + "; kimi-mcp never changes a file it did not create",
            MOVE_ASIDE.format(name=self.path.name),
        )

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = self._create_if_missing()
        connection = sqlite3.connect(
            self.path, timeout=10, check_same_thread=False, isolation_level=None
        )
        try:
            self._identify(connection)  # before any write: a foreign file stays as it was
            if not created:
                # Tightened if an older file was not owner-only (conversations are private).
                os.chmod(self.path, 0o600)
            connection.execute("PRAGMA foreign_keys = ON")
            # WAL with synchronous=NORMAL: a commit does not wait for an fsync (~ms each), and a
            # crash can lose at most the last turn, never corrupt the file.
            _use_wal(connection)
            connection.execute("PRAGMA synchronous = NORMAL")
            self._set_up(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _create_if_missing(self) -> bool:
        """Create the file owner-only from its first byte; True when it did not exist."""
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            # SQLite gives its -wal and -shm files the database file's mode.
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            os.close(descriptor)
            return True
        if not stat.S_ISREG(mode):
            raise self._refusal("it is not a regular file")
        return False

    def _identify(self, db: sqlite3.Connection) -> None:
        """Refuse a file that is not ours (or is from a newer kimi-mcp), reading only."""
        mark, found, version, tables = self._mark, *_header(db)
        unmarked_ours = found == 0 and version == 0 and self._only_our_columns(db, tables)
        if found == mark.application_id or unmarked_ours:
            if version > mark.version:
                raise StoreError(
                    self.path,
                    f"it was written by a newer kimi-mcp (schema {version}, this one knows "
                    f"{mark.version})",
                    "Upgrade kimi-mcp, or set data_dir (KIMI_MCP_DATA_DIR) to another directory.",
                )
            return
        raise self._refusal("it is another program's SQLite database, not a kimi-mcp store")

    def _only_our_columns(self, db: sqlite3.Connection, tables: frozenset[str]) -> bool:
        """True when every table is one of ours with only columns ours has: a store written
        before the mark. Names alone would let another program's `conversations` table pass."""
        if not tables <= self._tables:
            return False
        ours = _columns_of(self._schema)
        return all(_columns(db, table) <= ours[table] for table in tables)

    def _set_up(self, db: sqlite3.Connection) -> None:
        """Migrate, create what is missing and mark the file, in one transaction."""
        mark = self._mark
        db.execute("BEGIN IMMEDIATE")
        try:
            _, version, tables = _header(db)  # again: another process may have set it up
            if tables and version < mark.version and mark.migrate is not None:
                mark.migrate(db, version)
            for statement in filter(str.strip, self._schema.split(";")):
                db.execute(statement)
            db.execute(f"PRAGMA application_id = {int(mark.application_id)}")
            db.execute(f"PRAGMA user_version = {int(mark.version)}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


WAL_SWITCH_SECONDS = 10.0  # as long as the busy timeout of every other statement


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL. SQLite answers "locked" at once, without waiting, when another
    connection holds the file at that moment (two processes opening a new store together), so
    the switch is tried again for a bounded time, as the busy timeout would for a statement."""
    give_up, pause = time.monotonic() + WAL_SWITCH_SECONDS, 0.002
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > give_up:
                raise
        time.sleep(pause)  # a worker thread's wait (sqlite3 is blocking), not the event loop
        pause = min(pause * 2, 0.1)


def _header(db: sqlite3.Connection) -> tuple[int, int, frozenset[str]]:
    """The mark, the version and the tables, read from one snapshot: read one by one, another
    process setting up a fresh file could commit between them (a version without its mark
    looked like another program's database)."""
    began = not db.in_transaction
    if began:
        db.execute("BEGIN")
    try:
        (application_id,) = db.execute("PRAGMA application_id").fetchone()
        (version,) = db.execute("PRAGMA user_version").fetchone()
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        if began:
            db.execute("COMMIT")
    tables = frozenset(name for (name,) in rows if not name.startswith("sqlite_"))
    return int(application_id), int(version), tables


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    # `table` is one of our own table names (checked by the caller), so it is safe in the SQL.
    return {row[1] for row in db.execute(f"PRAGMA table_info('{table}')")}


@functools.cache
def _columns_of(schema: str) -> dict[str, set[str]]:
    """The columns of each table `schema` creates (built once in memory, never on disk)."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(schema)
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {table: _columns(db, table) for table in tables}
    finally:
        db.close()
