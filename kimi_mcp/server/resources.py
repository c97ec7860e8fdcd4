"""Conversations as MCP resources: hosts list and read them without adding tools to every prompt.

kimi://conversations is the newest 100 (id, model, turns, first question); kimi://conversations/{id}
is one conversation whole. Resources cost the host's model nothing until a user or the model asks.
"""

import json
from dataclasses import asdict
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from kimi_mcp.errors import InputError
from kimi_mcp.store.conversations import ConversationStore

RECENT = 100


def register_conversation_resources(server: MCPServer[Any], store: ConversationStore) -> None:
    async def conversations() -> str:
        return json.dumps([asdict(c) for c in await store.recent(RECENT)], ensure_ascii=False)

    async def conversation(conversation_id: str) -> str:
        try:
            return json.dumps(asdict(await store.load(conversation_id)), ensure_ascii=False)
        except InputError:  # the store's words are for ask_kimi's conversation_id argument
            raise ResourceNotFoundError(  # -32602, as for any other unknown resource
                f"Unknown resource: no conversation {conversation_id[:80]!r} on this server "
                "(kimi://conversations lists the ones kept)."
            ) from None

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
