"""Conversations kept server-side, so they outlive a client's /clear and a server restart.

`ConversationStore` is the small interface callers use; `sqlite_conversations` holds the embedded
default. A second backend implements the same five calls and `aclose`.

Every conversation has an owner (the HTTP client's name from `auth_tokens`; `DEFAULT_OWNER` for
stdio and a single token). A call for another owner's id answers exactly as for an unknown id, so
ids cannot be probed.
"""

import secrets
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kimi_mcp.errors import InputError
from kimi_mcp.store.default_owner import DEFAULT_OWNER as DEFAULT_OWNER  # still named here

Role = Literal["user", "assistant", "tool"]


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, kept as Kimi must see it again in later turns.

    A tool round is an assistant turn with `tool_calls` (exactly as Kimi returned them) followed
    by one `tool` turn per call, each naming its call in `tool_call_id`.
    """

    role: Role
    content: str
    reasoning: str | None = None  # reasoning_content of an assistant turn, kept for Kimi
    tool_calls: list[dict[str, Any]] | None = None  # an assistant turn that called tools
    tool_call_id: str | None = None  # a tool turn: the call it answers


@dataclass(frozen=True)
class Conversation:
    id: str
    model: str
    system: str | None
    turns: list[Turn] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)  # documents kept in every later turn
    owner: str = DEFAULT_OWNER
    reasoning_effort: str | None = None  # kimi-k3's effort of the latest turn (stored by append)


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    model: str
    turns: int
    updated_at: float
    first_prompt: str


def new_conversation(model: str, system: str | None, *, owner: str) -> Conversation:
    """A conversation not stored yet: the first `append` stores it with its first turns."""
    return Conversation(id="conv_" + secrets.token_hex(12), model=model, system=system, owner=owner)


class ConversationStore(Protocol):
    async def check(self) -> None:
        """Open the store and make sure it can be written: called before anything is billed.

        Raises:
            StoreError: it cannot be used (names the file and the fix).
        """

    async def load(self, conversation_id: str, *, owner: str) -> Conversation:
        """The conversation with every turn, for `owner`. It checks the store as `check` does
        (so a caller about to continue a conversation needs no separate check).

        Raises:
            InputError: unknown here (or another owner's), deleted or expired: says which.
            StoreError: the store cannot be used (names it and the fix).
        """

    async def append(
        self, conversation: Conversation, turns: list[Turn], model: str, file_ids: list[str]
    ) -> None:
        """Add `turns` to `conversation` (stored by its first append) for `conversation.owner`;
        `conversation.reasoning_effort` replaces the one kept.

        `file_ids` are merged with the ones kept, never replace them, so concurrent calls all
        keep theirs. Text is kept exactly, whatever code points it holds.

        Raises:
            InputError: the conversation was deleted or expired meanwhile (checked in the same
                transaction as the append, so a deleted conversation never comes back).
            StoreError: the store failed.
        """

    async def recent(self, limit: int, *, owner: str) -> list[ConversationSummary]: ...
    async def delete(self, conversation_id: str, *, owner: str) -> None: ...
    async def aclose(self) -> None: ...


EndReason = Literal["deleted", "expired"]
_ENDED = {
    None: "does not exist on this server",
    "deleted": "was deleted",
    "expired": "expired (see conversation_ttl_days)",
}


def unknown_conversation(conversation_id: str, reason: EndReason | None = None) -> InputError:
    return InputError(
        f"Unknown conversation_id '{conversation_id}': it {_ENDED[reason]}. Nothing was sent. Omit "
        "conversation_id to start a new conversation (list_conversations shows the ones kept)."
    )


def ended_meanwhile(conversation_id: str, reason: EndReason | None) -> InputError:
    """An append refused: the conversation ended while Kimi answered (the answer is not kept)."""
    what = _ENDED[reason] if reason else "is no longer on this server"
    return InputError(
        f"conversation '{conversation_id}' {what} while Kimi answered, so this turn was not kept"
    )
