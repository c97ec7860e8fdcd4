"""Fit a conversation into the model's window, dropping the oldest turns first.

What is already proven decides first, without asking Kimi anything: a cheap local upper bound
(a token is never shorter than one UTF-8 byte), else a bound Kimi's own usage gave for the head
and history (the previous turn's prompt_tokens plus its answer, see `usage_counts`). Only when
neither proves the fit are messages counted: each count is kept for good, so a message is counted
once in its life, and a walk back counts at most `MAX_COUNTED` older messages per call (any other
uncounted one takes its local bound, which is safe). The head (system prompt, documents) and the
new question are never dropped.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kimi_mcp.errors import InputError

Message = dict[str, Any]
PER_MESSAGE = 8  # tokens of a message's framing, at most (role markers and separators)
BATCH = 16  # cached counts read at once while walking back (doubling each round)
# Older messages counted per call while walking back: a long conversation first crossing the
# window holds questions never counted (usage proved their fit), and counting them all at once
# was the storm (51 requests) a low rate-limit tier refuses. The rest take their local bound.
MAX_COUNTED = 4


class Counts(Protocol):
    """Counts of the messages of head + history + tail, by their index in that list."""

    async def known(self, indexes: list[int]) -> list[int | None]:
        """The counts already known (cached or proven by usage); None where none is."""

    async def count(self, indexes: list[int]) -> list[int]:
        """Kimi's counts (one request per message), kept for later calls."""

    async def proven(self) -> int | None:
        """A bound of head + history's count that Kimi's usage proved, if one is kept."""


@dataclass(frozen=True)
class Known:
    """What is known of the history before anything is read or asked."""

    bounds: Sequence[int]  # `upper_bound` of each history message
    bound_sum: int

    @classmethod
    def of(cls, history: list[Message]) -> "Known":
        bounds = [upper_bound(message) for message in history]
        return cls(bounds, sum(bounds))


def upper_bound(message: Message) -> int:
    """Never below Kimi's count of the message: a token is never shorter than one UTF-8 byte,
    and every field but the role is counted (a tool-call turn's calls, the reasoning a thinking
    model is sent back, a tool result's call id), whatever Kimi's tokenizer leaves out."""
    size = PER_MESSAGE
    for key, value in message.items():
        if key != "role":
            text = value if isinstance(value, str) else json.dumps(value)
            size += len(text.encode("utf-8", "surrogatepass"))
    return size


def answer_room(window: int, max_tokens: int | None) -> int:
    """Tokens kept free for the answer (contract: max_tokens, else min(4096, window / 4))."""
    return max_tokens if max_tokens is not None else min(4096, window // 4)


@dataclass(frozen=True)
class Fitted:
    messages: list[Message]
    dropped_turns: int


async def fit(
    head: list[Message],
    history: list[Message],
    tail: list[Message],
    *,
    budget: int,
    counts: Counts,
    known: Known | None = None,
) -> Fitted:
    """Keep head + the newest history that fits in `budget` tokens + tail."""
    everything = head + history + tail
    known = known or Known.of(history)
    tail_bound = sum(map(upper_bound, tail))
    if sum(map(upper_bound, head)) + known.bound_sum + tail_bound <= budget:
        return Fitted(everything, 0)
    proven = await counts.proven()  # read only now: most calls never need it
    if proven is not None and proven + tail_bound <= budget:
        return Fitted(everything, 0)
    first_tail = len(head) + len(history)
    fixed = [*range(len(head)), *range(first_tail, len(everything))]
    sizes = await _exact(counts, fixed)
    tail_size = sum(sizes[len(head) :])
    if proven is not None and proven + tail_size <= budget:
        return Fitted(everything, 0)  # the question counted: usage proves the rest
    room = budget - sum(sizes)
    if room < 0:
        raise InputError(
            f"The question, system prompt and documents alone need more than the {budget} tokens "
            "this model leaves for input. Shorten them, lower max_tokens, or use a model with a "
            "larger context_length (see list_models)."
        )
    kept = await _Walk(counts, len(head), known.bounds).newest_within(len(history), room)
    if kept == len(history):
        return Fitted(everything, 0)
    return _keep_newest(head, history, tail, kept)


async def _exact(counts: Counts, indexes: list[int]) -> list[int]:
    sizes = await counts.known(indexes)
    missing = [index for index, size in zip(indexes, sizes, strict=True) if size is None]
    asked = dict(zip(missing, await counts.count(missing) if missing else [], strict=True))
    return [asked[i] if size is None else size for i, size in zip(indexes, sizes, strict=True)]


class _Walk:
    """The walk back from the newest history message, reading cached counts a batch at a time
    and counting the uncounted ones it reaches (a few per call, at once)."""

    def __init__(self, counts: Counts, offset: int, bounds: Sequence[int]) -> None:
        self._counts = counts
        self._offset = offset  # history[i] is message offset + i of the whole list
        self._bounds = bounds
        self._sizes: dict[int, int | None] = {}
        self._spare = MAX_COUNTED
        self._batch = BATCH

    async def newest_within(self, total: int, room: int) -> int:
        """How many of the newest `total` history messages fit in `room` tokens."""
        kept = 0
        for index in range(total - 1, -1, -1):
            size = await self._size(index, room)
            if size > room:
                break
            room -= size
            kept += 1
        return kept

    async def _size(self, index: int, room: int) -> int:
        if index not in self._sizes:
            low = max(0, index + 1 - self._batch)
            self._batch *= 2
            found = await self._counts.known([self._offset + i for i in range(low, index + 1)])
            self._sizes.update(zip(range(low, index + 1), found, strict=True))
        size = self._sizes[index]
        if size is None and self._spare:
            await self._count_from(index, room)
            size = self._sizes[index]
        return self._bounds[index] if size is None else size

    async def _count_from(self, index: int, room: int) -> None:
        """Count `index` and the next uncounted messages the walk will likely keep, at once."""
        chosen: list[int] = []
        while index in self._sizes and len(chosen) < self._spare and room > 0:
            size = self._sizes[index]
            if size is None:
                chosen.append(index)
                size = self._bounds[index] // 4  # a guess, only to choose what to count
            room -= size
            index -= 1
        found = await self._counts.count([self._offset + i for i in chosen])
        self._sizes.update(zip(chosen, found, strict=True))
        self._spare -= len(chosen)


def _keep_newest(
    head: list[Message], history: list[Message], tail: list[Message], kept: int
) -> Fitted:
    start = len(history) - kept
    # Start at a question: an answer without its question, or a tool round without the
    # assistant call that opened it (Kimi rejects that), is dropped with what came before.
    while start < len(history) and history[start].get("role") != "user":
        start += 1
    return Fitted(head + history[start:] + tail, start)
