"""Fit a conversation into the model's window, dropping the oldest turns first.

A cheap local upper bound decides first (a token is never shorter than one UTF-8 byte); Kimi's
own count (free, but a round trip) is asked only when the history may not fit. The head (system
prompt, documents) and the new question are never dropped.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kimi_mcp.errors import InputError

Message = dict[str, Any]
CountTokens = Callable[[list[Message]], Awaitable[int]]
PER_MESSAGE = 8
MAX_RECOUNTS = 8


def upper_bound(message: Message) -> int:
    content = message.get("content")
    text = content if isinstance(content, str) else str(content)
    return PER_MESSAGE + len(text.encode("utf-8"))


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
    count: CountTokens,
) -> Fitted:
    """Keep head + the newest history that fits in `budget` tokens + tail."""
    fixed = sum(map(upper_bound, head + tail))
    if fixed + sum(map(upper_bound, history)) <= budget:
        return Fitted(head + history + tail, 0)
    dropped = 0
    for _ in range(MAX_RECOUNTS):
        kept = history[dropped:]
        total = await count(head + kept + tail)
        if total <= budget:
            return Fitted(head + kept + tail, dropped)
        if not kept:
            break
        dropped += _turns_to_drop(kept, total - budget, total, fixed)
    raise InputError(
        f"The question, system prompt and documents alone need more than the {budget} tokens "
        "this model leaves for input. Shorten them, lower max_tokens, or use a model with a "
        "larger context_length (see list_models)."
    )


def _turns_to_drop(kept: list[Message], excess: int, total: int, fixed: int) -> int:
    """How many of the oldest turns cover `excess` tokens, scaled by Kimi's count; at least 1."""
    local = fixed + sum(map(upper_bound, kept))
    scale = total / local if local else 1.0
    freed, drop = 0.0, 0
    while drop < len(kept) and freed < excess:
        freed += upper_bound(kept[drop]) * scale
        drop += 1
    # Keep user/assistant pairs together: never start the history with an assistant turn.
    if drop < len(kept) and kept[drop].get("role") == "assistant":
        drop += 1
    return max(1, drop)
