"""The turns of recently loaded conversations, kept in memory so a load reads only new turns.

Without it every ask_kimi reread the whole history (about 3 us per stored message, every call).
Turns are append-only: each has a position (`next` counts them) that only grows, and a turn is
never changed, only deleted with its conversation. So a cached prefix stays right for as long as
the conversation lives, and a backend still reads the conversation's own record on every load
(owner, model, documents, expiry, a delete by another process or replica) and then only the turns
from `next` on. `created` tells the conversation apart from a later one under the same id (Redis:
keys that expired unseen, then an append that made the id anew): a different `created` is a miss.

Bounded by conversations and by characters, least recently used first out. Not thread-safe by
itself: the SQLite backend uses it under its file lock, the Redis backend on the event loop.
"""

from collections import OrderedDict
from dataclasses import dataclass

from kimi_mcp.store.conversations import Turn

MAX_CONVERSATIONS = 32
MAX_CHARS = 8_000_000  # 8-32 MB of text at most (1-4 bytes a character), whatever they hold


@dataclass(frozen=True)
class CachedTurns:
    created: str  # the backend's creation stamp, as text (exact: never compared as a float)
    next: int  # the position of the next turn in the store (SQLite seq, Redis list index)
    turns: tuple[Turn, ...]
    chars: int


NOTHING = CachedTurns("", 0, (), 0)


class ConversationCache:
    def __init__(self, *, conversations: int = MAX_CONVERSATIONS, chars: int = MAX_CHARS) -> None:
        self._entries: OrderedDict[str, CachedTurns] = OrderedDict()
        self._max_conversations = conversations
        self._max_chars = chars
        self._chars = 0

    def get(self, conversation_id: str, created: str) -> CachedTurns:
        """The cached turns of this conversation (NOTHING when unknown or a different one)."""
        cached = self._entries.get(conversation_id)
        if cached is None or cached.created != created:
            return NOTHING
        self._entries.move_to_end(conversation_id)
        return cached

    def latest(self, conversation_id: str) -> CachedTurns:
        """The cached turns under this id, whichever conversation they belong to: the caller
        compares `created` with the store's (Redis reads both in one round trip)."""
        cached = self._entries.get(conversation_id, NOTHING)
        if cached is not NOTHING:
            self._entries.move_to_end(conversation_id)
        return cached

    def extend(
        self, conversation_id: str, base: CachedTurns, created: str, next_: int, new: list[Turn]
    ) -> CachedTurns:
        """`base` (what `get` gave) followed by the turns read after it, kept as the entry."""
        chars = base.chars + sum(_chars(turn) for turn in new)
        entry = CachedTurns(created, next_, (*base.turns, *new), chars)
        self.drop(conversation_id)
        if chars <= self._max_chars:
            self._entries[conversation_id] = entry
            self._chars += chars
            self._evict()
        return entry

    def drop(self, conversation_id: str) -> None:
        gone = self._entries.pop(conversation_id, None)
        if gone is not None:
            self._chars -= gone.chars

    def _evict(self) -> None:
        while len(self._entries) > self._max_conversations or self._chars > self._max_chars:
            _, oldest = self._entries.popitem(last=False)
            self._chars -= oldest.chars


def _chars(turn: Turn) -> int:
    calls = sum(len(str(call)) for call in turn.tool_calls) if turn.tool_calls else 0
    return len(turn.content) + len(turn.reasoning or "") + calls
