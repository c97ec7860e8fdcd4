"""The stores for a store URL: the embedded SQLite files, or Redis for replicas sharing state.

The one place that knows the backends: callers get the interfaces and never learn which is
behind them. Takes plain values (the store package knows no settings).
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from kimi_mcp.errors import StoreError
from kimi_mcp.store.answer_writes import AnswerWrites, Sequential
from kimi_mcp.store.conversations import ConversationStore
from kimi_mcp.store.spend import SpendLedger
from kimi_mcp.store.sqlite_answer_writes import SqliteAnswerWrites
from kimi_mcp.store.sqlite_conversations import SqliteConversationStore
from kimi_mcp.store.sqlite_spend import SqliteSpendLedger
from kimi_mcp.store.sqlite_token_counts import SqliteTokenCountStore
from kimi_mcp.store.sqlite_uploads import SqliteUploadLedger
from kimi_mcp.store.store_url import masked_url
from kimi_mcp.store.token_counts import TokenCountStore
from kimi_mcp.store.uploads import UploadLedger

REDIS_SCHEMES = ("redis", "rediss")
REDIS_EXTRA = "pip install 'kimi-mcp[redis]'"


class Checked(Protocol):
    async def check(self) -> None: ...
    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Stores:
    conversations: ConversationStore
    uploads: UploadLedger
    spend: SpendLedger
    token_counts: TokenCountStore
    where: str  # the directory or the URL (password masked), for messages and doctor
    answer_writes: AnswerWrites  # the writes after an answer, in one go (answer_writes)

    @property
    def all(self) -> tuple[Checked, ...]:
        return (self.conversations, self.uploads, self.spend, self.token_counts)

    async def check(self) -> None:
        """Each store usable (reachable, writable), or the first StoreError."""
        for problem in await self.problems():
            raise problem

    async def problems(self) -> list[StoreError]:
        """What keeps each store from being used, one StoreError per distinct problem (a
        Redis that is down is one problem, not three)."""
        found: dict[str, StoreError] = {}
        for store in self.all:
            try:
                await store.check()
            except StoreError as exc:
                found.setdefault(str(exc), exc)
        return list(found.values())

    async def aclose(self) -> None:
        for store in self.all:
            await store.aclose()


def sqlite_directory(url: str | None, data_dir: Path) -> Path:
    """The directory a `sqlite:///<dir>` URL names (`data_dir` when there is no URL)."""
    if not url:
        return data_dir.expanduser()
    return Path(urlsplit(url).path).expanduser()


def open_stores(
    url: str | None, *, data_dir: Path, key_prefix: str = "kimi-mcp:", ttl_days: float = 0
) -> Stores:
    """The stores for `url` (None: SQLite files in `data_dir`). Nothing is opened yet.

    Raises:
        StoreError: a Redis URL and the redis extra is not installed.
    """
    if url and urlsplit(url).scheme in REDIS_SCHEMES:
        return _redis_stores(url, key_prefix, ttl_days)
    directory = sqlite_directory(url, data_dir)
    conversations = SqliteConversationStore(directory / "conversations.sqlite3", ttl_days=ttl_days)
    spend = SqliteSpendLedger(directory / "spend.sqlite3")
    token_counts = SqliteTokenCountStore(directory / "token_counts.sqlite3")
    return Stores(
        conversations,
        SqliteUploadLedger(directory / "uploads.sqlite3"),
        spend,
        token_counts,
        str(directory),
        SqliteAnswerWrites(conversations, token_counts, spend),
    )


def _redis_stores(url: str, key_prefix: str, ttl_days: float) -> Stores:
    try:  # the optional extra: imported only when a Redis URL is set
        from kimi_mcp.store.redis_connection import RedisConnection
        from kimi_mcp.store.redis_conversations import RedisConversationStore
        from kimi_mcp.store.redis_spend import RedisSpendLedger
        from kimi_mcp.store.redis_token_counts import RedisTokenCountStore
        from kimi_mcp.store.redis_uploads import RedisUploadLedger
    except ImportError as exc:
        raise StoreError(
            masked_url(url), "the redis package is not installed", f"Install it: {REDIS_EXTRA}."
        ) from exc
    connection = RedisConnection(url, prefix=key_prefix)  # one pool, shared by the three
    conversations = RedisConversationStore(connection, ttl_days=ttl_days)
    spend = RedisSpendLedger(connection)
    token_counts = RedisTokenCountStore(connection)
    return Stores(
        conversations,
        RedisUploadLedger(connection),
        spend,
        token_counts,
        connection.shown,
        Sequential(conversations, token_counts, spend),
    )
