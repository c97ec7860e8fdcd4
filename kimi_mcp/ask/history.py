"""The stored turns of each conversation as the messages Kimi is sent, built once per turn.

Rebuilding every turn's message on every call cost about 0.3 ms at turn 200 (profiled: 400
`turn_message` calls per ask), most of what made ask_kimi's overhead grow with the history. A
conversation only grows (stored turns are never edited or reordered), so the messages of its
first n turns, once built, hold for every later load of it; the last of them is checked anyway.
"""

from collections import OrderedDict
from typing import Any

from kimi_mcp.ask.tool_loop import turn_message
from kimi_mcp.store.conversations import Conversation

Message = dict[str, Any]
# Conversations whose messages are kept. The messages hold their turns' strings, so this stays
# within the store's own conversation cache (32): a longer memo would keep evicted ones alive.
MEMO_SIZE = 32


class HistoryMessages:
    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._size = size
        self._memo: OrderedDict[tuple[str, bool], list[Message]] = OrderedDict()

    def of(self, conversation: Conversation | None, thinks: bool) -> list[Message]:
        """The messages of the conversation's turns (a new list: callers may extend it)."""
        turns = conversation.turns if conversation else []
        if conversation is None or not turns:
            return []
        key = (conversation.id, thinks)
        built = self._memo.pop(key, [])
        if len(built) > len(turns) or (
            built and turn_message(turns[len(built) - 1], thinks) != built[-1]
        ):
            built = []  # loaded before another call appended, or not the turns built from
        built += [turn_message(turn, thinks) for turn in turns[len(built) :]]
        self._memo[key] = built
        if len(self._memo) > self._size:
            self._memo.popitem(last=False)
        return list(built[: len(turns)])
