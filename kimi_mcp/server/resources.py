"""Conversations as MCP resources: hosts list and read them without adding tools to every prompt.

kimi://conversations is the newest 100 (id, model, turns, first question); kimi://conversations/{id}
is one conversation whole. Resources cost the host's model nothing until a user or the model asks.
"""

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError

from kimi_mcp.errors import InputError, KimiError
from kimi_mcp.server.owners import current_owner
from kimi_mcp.server.results import LONE_SURROGATE
from kimi_mcp.store.conversations import Conversation, ConversationStore

RECENT = 100


def register_conversation_resources(
    server: MCPServer[Any], store_of: Callable[[], ConversationStore]
) -> None:
    """`store_of` gives the store when a resource is read: it is opened on first use."""

    async def conversations() -> str:
        try:
            summaries = await store_of().recent(RECENT, owner=current_owner())
        except KimiError as exc:  # the store's: names the file and the fix
            raise ResourceError(str(exc)) from None
        return _json([asdict(c) for c in summaries])

    async def conversation(conversation_id: str) -> str:
        try:
            found = await store_of().load(conversation_id, owner=current_owner())
            return _json(_shown(found))
        except InputError:  # unknown, or another owner's: -32602 like any unknown resource
            raise ResourceNotFoundError(
                f"Unknown resource: no conversation {conversation_id[:80]!r} on this server "
                "(kimi://conversations lists the ones kept)."
            ) from None
        except KimiError as exc:  # the store's error, which names the file and the fix
            raise ResourceError(str(exc)) from None

    server.resource(
        "kimi://conversations",
        name="conversations",
        mime_type="application/json",
        description="Recent ask_kimi conversations, newest first.",
    )(conversations)
    server.resource(
        "kimi://conversations/{conversation_id}",
        name="conversation",
        mime_type="application/json",
        description="One ask_kimi conversation, every turn.",
    )(conversation)


def _json(value: object) -> str:
    """JSON with text as it is, lone surrogates escaped (\\udXXX): exact, and sendable."""
    text = json.dumps(value, ensure_ascii=False)
    return LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _shown(conversation: Conversation) -> dict[str, Any]:
    shown = asdict(conversation)
    del shown["owner"]  # the reader is the owner: nothing to tell
    return shown
