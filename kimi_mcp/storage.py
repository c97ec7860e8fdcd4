"""One SQLite file in the data directory, created on first use (no disk work at start-up)."""

import sqlite3
from pathlib import Path


class SqliteFile:
    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self._schema = schema
        self._ready = False

    def connect(self) -> sqlite3.Connection:
        """A new connection (sqlite3 objects stay on the worker thread that made them)."""
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute("PRAGMA foreign_keys = ON")
        if not self._ready:
            connection.executescript(self._schema)
            self._ready = True
        return connection
