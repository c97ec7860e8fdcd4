"""Fit a conversation into the model's window, dropping the oldest turns first.

A cheap local upper bound decides first (a token is never shorter than one UTF-8 byte); Kimi's
own count (free, but a round trip) is asked only when the history may not fit. The head (system
prompt, documents) and the new question are never dropped.
"""

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kimi_mcp.errors import InputError

Message = dict[str, Any]
CountEach = Callable[[list[Message]], Awaitable[list[int]]]
PER_MESSAGE = 8
BATCH = 8  # turns counted per round while walking back from the newest


def upper_bound(message: Message) -> int:
    content = message.get("content")
    text = content if isinstance(content, str) else str(content)
    calls = message.get("tool_calls")  # a tool-call turn: its calls are prompt tokens too
    extra = len(json.dumps(calls).encode("utf-8")) if calls else 0
    return PER_MESSAGE + len(text.encode("utf-8", "surrogatepass")) + extra


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
    count_each: CountEach,
) -> Fitted:
    """Keep head + the newest history that fits in `budget` tokens + tail.

    `count_each` gives Kimi's count of each message (cached by the caller), so a long history
    costs one round of counts for its new turns, not a recount of everything.
    """
    everything = head + history + tail
    if sum(map(upper_bound, everything)) <= budget:
        return Fitted(everything, 0)
    fixed = head + tail
    counts = await count_each(fixed + history[-BATCH:])  # one round trip in the common case
    room = budget - sum(counts[: len(fixed)])
    if room < 0:
        raise InputError(
            f"The question, system prompt and documents alone need more than the {budget} tokens "
            "this model leaves for input. Shorten them, lower max_tokens, or use a model with a "
            "larger context_length (see list_models)."
        )
    sizes, kept = counts[len(fixed) :], 0
    while sizes:
        for size in reversed(sizes):
            if size > room:
                return _keep_newest(head, history, tail, kept)
            room -= size
            kept += 1
        start = len(history) - kept
        sizes = await count_each(history[max(0, start - BATCH) : start]) if start else []
    return Fitted(everything, 0)


def _keep_newest(
    head: list[Message], history: list[Message], tail: list[Message], kept: int
) -> Fitted:
    start = len(history) - kept
    # Start at a question: an answer without its question, or a tool round without the
    # assistant call that opened it (Kimi rejects that), is dropped with what came before.
    while start < len(history) and history[start].get("role") != "user":
        start += 1
    return Fitted(head + history[start:] + tail, start)
