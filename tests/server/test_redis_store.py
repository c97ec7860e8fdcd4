"""The server on a Redis store (store_url = redis://...), through the in-memory MCP client:
the same tools work, nothing lands in data_dir, the spend cap reads Redis, and a Redis that is
down is a clear tool error with nothing sent to Kimi, gone once Redis is back (no restart)."""

from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from mcp import Client

from kimi_mcp.config import Settings
from kimi_mcp.emulator import Emulator
from tests.conftest import served
from tests.redis_server import RedisServer
from tests.tool_results import chats, error_text, ok

pytestmark = pytest.mark.anyio


def on_redis(
    settings: Settings, redis_url: str, **more: Any
) -> AbstractAsyncContextManager[Client]:
    return served(settings, store_url=redis_url, **more)


async def ask(client: Client, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("ask_kimi", args))


async def test_conversations_live_in_redis_and_are_listed_continued_and_deleted(
    settings: Settings, emulator: Emulator, redis_url: str
) -> None:
    async with on_redis(settings, redis_url) as client:
        first = await ask(client, prompt="remember the word pelican")
        conversation = first["conversation_id"]
    async with on_redis(settings, redis_url) as client:  # another replica, the same Redis
        await ask(client, prompt="which word?", conversation_id=conversation)
        sent = [m["content"] for m in chats(emulator)[-1].json["messages"]]
        assert sent[0] == "remember the word pelican" and sent[1] == first["answer"]
        listed = ok(await client.call_tool("list_conversations", {}))["conversations"]
        assert [(c["conversation_id"], c["turns"]) for c in listed] == [(conversation, 4)]
        ok(await client.call_tool("delete_conversation", {"conversation_id": conversation}))
        refused = await client.call_tool(
            "ask_kimi", {"prompt": "again?", "conversation_id": conversation}
        )
        assert "was deleted" in error_text(refused)
    assert not settings.data_dir.exists() or not list(settings.data_dir.glob("*.sqlite3"))


async def test_the_daily_spend_cap_is_read_from_redis(
    settings: Settings, emulator: Emulator, redis_url: str
) -> None:
    async with on_redis(settings, redis_url, daily_spend_cap=1e-9) as client:
        await ask(client, prompt="the first call starts under the cap")
    async with on_redis(settings, redis_url, daily_spend_cap=1e-9) as client:  # another replica
        refused = error_text(await client.call_tool("ask_kimi", {"prompt": "one more"}))
    assert "reached daily_spend_cap" in refused and "nothing was sent to Kimi" in refused
    assert len(chats(emulator)) == 1


async def test_redis_down_is_a_clear_tool_error_and_nothing_is_sent_then_it_recovers(
    settings: Settings, emulator: Emulator, redis_server: RedisServer, redis_url: str
) -> None:
    async with on_redis(settings, redis_url) as client:
        await ask(client, prompt="before")
        redis_server.stop()
        message = error_text(await client.call_tool("ask_kimi", {"prompt": "while down"}))
        assert "Redis is not reachable" in message and redis_url in message, message
        assert "Nothing was sent to Kimi" in message
        assert len(chats(emulator)) == 1
        redis_server.start()  # the same server, no restart
        await ask(client, prompt="after")
    assert len(chats(emulator)) == 2
