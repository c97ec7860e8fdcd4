"""Conversations as two short tools, so a host's model can find and end them itself.

Resources (kimi://conversations) serve people browsing in a client; a model after a /clear has
lost its conversation_id and most hosts give models no way to read resources, so listing is a
tool too. Deleting needs a tool: resources are read-only.
"""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field

from kimi_mcp.server.app_context import AppCtx, app_of
from kimi_mcp.server.owners import current_owner
from kimi_mcp.server.results import (
    ConversationDeleted,
    ConversationEntry,
    ConversationsResult,
    wire_safe,
)

CONVERSATION_ID = Field(
    min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="From ask_kimi."
)


async def list_conversations(
    ctx: AppCtx,
    limit: Annotated[int, Field(ge=1, le=100, description="How many to list.")] = 20,
) -> ConversationsResult:
    """List the ask_kimi conversations kept on this server, newest first."""
    summaries = await app_of(ctx).chat.store.recent(limit, owner=current_owner())
    entries = [
        ConversationEntry(
            conversation_id=s.id,
            model=s.model,
            turns=s.turns,
            updated_at=datetime.fromtimestamp(s.updated_at, UTC).isoformat(timespec="seconds"),
            first_prompt=wire_safe(s.first_prompt),
        )
        for s in summaries
    ]
    return ConversationsResult(conversations=entries, count=len(entries))


async def delete_conversation(
    conversation_id: Annotated[str, CONVERSATION_ID], ctx: AppCtx
) -> ConversationDeleted:
    """Delete a conversation's history from this server. It cannot be undone."""
    await app_of(ctx).chat.store.delete(conversation_id, owner=current_owner())
    return ConversationDeleted(conversation_id=conversation_id, deleted=True)
