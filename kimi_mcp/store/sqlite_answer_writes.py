"""The writes after an answer in one worker-thread hop: the three SQLite files are written one
after another on that thread, each in its own transaction, in `AnswerWrites` order."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from kimi_mcp.store.answer_writes import Charge, Keep, Written
from kimi_mcp.store.sqlite_conversations import SqliteConversationStore
from kimi_mcp.store.sqlite_spend import SqliteSpendLedger
from kimi_mcp.store.sqlite_token_counts import SqliteTokenCountStore


@dataclass(frozen=True)
class SqliteAnswerWrites:
    conversations: SqliteConversationStore
    token_counts: SqliteTokenCountStore
    spend: SqliteSpendLedger

    async def write(
        self, keep: Keep | None, counts: dict[str, int], charge: Charge | None
    ) -> Written:
        if keep is None and not counts and charge is None:
            return Written()
        return await anyio.to_thread.run_sync(self._write, keep, counts, charge)

    def _write(self, keep: Keep | None, counts: dict[str, int], charge: Charge | None) -> Written:
        """On the worker thread; each store's blocking body, as its own async call runs it."""
        kept = counted = charged = None
        if keep is not None:
            kept = _failure(
                self.conversations.append_blocking,
                keep.conversation,
                keep.turns,
                keep.model,
                keep.file_ids,
            )
        if counts:
            counted = _failure(self.token_counts.put_many_blocking, counts)
        if charge is not None:
            charged = _failure(
                self.spend.record_blocking, charge.day, charge.currency, charge.spend
            )
        return Written(kept, counted, charged)


def _failure(write: Callable[..., None], *args: Any) -> Exception | None:
    try:
        write(*args)
    except Exception as exc:  # returned: the next write is made all the same
        return exc
    return None
