"""kimi-k3's reasoning_effort across a conversation: remembered, and a change reported, since
switching it invalidates Kimi's prompt cache (kimi-api.md 2.7)."""

from dataclasses import dataclass

from kimi_mcp.kimi.rules import effort_fields, rules_for
from kimi_mcp.store.conversations import Conversation

KIMI_DEFAULT_EFFORT = "max"  # what kimi-k3 uses when no effort is sent (kimi-api.md 2.2)


@dataclass(frozen=True)
class EffortChoice:
    effort: str | None  # sent with this turn and remembered by the conversation
    cache_reset: bool  # the effort differs from the previous turn's: Kimi's cache starts over


def choose_effort(
    model_id: str, requested: str | None, conversation: Conversation | None
) -> EffortChoice:
    """The effort for this turn: the one asked for, else the conversation's; an InputError when
    asked of a model that takes none. A remembered effort is dropped for such a model."""
    effort_fields(model_id, requested)  # refuses before anything is sent
    if not rules_for(model_id).reasoning_effort:
        return EffortChoice(None, False)
    before = conversation.reasoning_effort if conversation else None
    effort = requested or before
    # Only an earlier kimi-k3 turn left a cache that this effort could invalidate.
    continued = bool(
        conversation and conversation.turns and rules_for(conversation.model).reasoning_effort
    )
    changed = (effort or KIMI_DEFAULT_EFFORT) != (before or KIMI_DEFAULT_EFFORT)
    return EffortChoice(effort, continued and changed)
