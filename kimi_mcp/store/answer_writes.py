"""The writes after a billed answer, made in one go: the turns kept, the token counts learnt and
the call's spend.

They are made in that order (store first, then bill), each failure is its own (a turn not kept
never stops the spend from being recorded) and is returned, never raised: the caller decides what
each one costs. The SQLite backend makes all three in one worker-thread hop
(`sqlite_answer_writes`): one at a time they were a hop each, the largest part of what an ask's
answer waited for after Kimi's last byte. `Sequential` makes them through the stores' own calls
(Redis: a round trip each).
"""

from dataclasses import dataclass
from typing import Protocol

from kimi_mcp.store.conversations import Conversation, ConversationStore, Turn
from kimi_mcp.store.spend import Spend, SpendLedger
from kimi_mcp.store.token_counts import TokenCountStore


@dataclass(frozen=True)
class Keep:
    """Turns to add to a conversation (`ConversationStore.append`)."""

    conversation: Conversation
    turns: list[Turn]
    model: str
    file_ids: list[str]


@dataclass(frozen=True)
class Charge:
    """One call's spend, added to `day` in `currency` (`SpendLedger.record`)."""

    day: str
    currency: str
    spend: Spend


@dataclass(frozen=True)
class Written:
    """Each write's failure; None: it was made, or there was none to make."""

    keep: Exception | None = None
    counts: Exception | None = None
    charge: Exception | None = None


class AnswerWrites(Protocol):
    async def write(
        self, keep: Keep | None, counts: dict[str, int], charge: Charge | None
    ) -> Written: ...


@dataclass(frozen=True)
class Sequential:
    """The writes through each store's own call, one after another."""

    conversations: ConversationStore
    token_counts: TokenCountStore
    spend: SpendLedger

    async def write(
        self, keep: Keep | None, counts: dict[str, int], charge: Charge | None
    ) -> Written:
        kept = counted = charged = None
        if keep is not None:
            try:
                await self.conversations.append(
                    keep.conversation, keep.turns, keep.model, keep.file_ids
                )
            except Exception as exc:
                kept = exc
        if counts:
            try:
                await self.token_counts.put_many(counts)
            except Exception as exc:
                counted = exc
        if charge is not None:
            try:
                await self.spend.record(charge.day, charge.currency, charge.spend)
            except Exception as exc:
                charged = exc
        return Written(kept, counted, charged)
