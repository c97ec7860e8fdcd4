"""Conversations kept server-side, so they outlive a client's /clear and a server restart.

`ConversationStore` is the small interface callers use; `sqlite_conversations` holds the embedded
default. A second backend implements the same four calls and `aclose`.
"""

import secrets
from dataclasses import dataclass, field
from typing import Literal, Protocol

from kimi_mcp.errors import InputError

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Turn:
    role: Role
    content: str
    reasoning: str | None = None  # reasoning_content of an assistant turn, kept for Kimi


@dataclass(frozen=True)
class Conversation:
    id: str
    model: str
    system: str | None
    turns: list[Turn] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)  # documents kept in every later turn


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    model: str
    turns: int
    updated_at: float
    first_prompt: str


def new_conversation(model: str, system: str | None) -> Conversation:
    """A conversation not stored yet: the first `append` stores it with its first turns."""
    return Conversation(id="conv_" + secrets.token_hex(12), model=model, system=system)


class ConversationStore(Protocol):
    async def load(self, conversation_id: str) -> Conversation: ...
    async def append(
        self, conversation: Conversation, turns: list[Turn], model: str, file_ids: list[str]
    ) -> None: ...
    async def recent(self, limit: int) -> list[ConversationSummary]: ...
    async def delete(self, conversation_id: str) -> None: ...
    async def aclose(self) -> None: ...


EndReason = Literal["deleted", "expired"]


def unknown_conversation(conversation_id: str, reason: EndReason | None = None) -> InputError:
    what = {
        None: "does not exist on this server",
        "deleted": "was deleted",
        "expired": "expired (see conversation_ttl_days)",
    }[reason]
    return InputError(
        f"Unknown conversation_id '{conversation_id}': it {what}. Nothing was sent. Omit "
        "conversation_id to start a new conversation (list_conversations shows the ones kept)."
    )
