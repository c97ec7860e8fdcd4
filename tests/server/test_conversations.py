"""Conversations: continued by id, kept across a restart, trimmed to the window, never faked."""

import json
from typing import Any

import pytest
from mcp import Client, MCPError

from kimi_mcp.config import Settings
from kimi_mcp.emulator import Emulator
from kimi_mcp.server import build_server
from tests.tool_results import chats, error_text, ok

pytestmark = pytest.mark.anyio


async def ask(client: Client, **args: Any) -> dict[str, Any]:
    return ok(await client.call_tool("ask_kimi", args))


async def test_three_turns_send_the_earlier_turns(mcp_client: Client, emulator: Emulator) -> None:
    first = await ask(mcp_client, prompt="turn one alpha", system="Be terse.")
    conversation = first["conversation_id"]
    second = await ask(mcp_client, prompt="turn two beta", conversation_id=conversation)
    third = await ask(mcp_client, prompt="turn three gamma", conversation_id=conversation)
    assert second["conversation_id"] == third["conversation_id"] == conversation
    sent = chats(emulator)[-1].json["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert sent[0]["content"] == "Be terse."
    assert sent[1]["content"] == "turn one alpha"
    assert sent[2]["content"] == first["answer"]
    assert sent[4]["content"] == second["answer"]
    assert sent[5]["content"] == "turn three gamma"
    assert third["dropped_turns"] == 0


async def test_a_new_question_starts_a_new_conversation(mcp_client: Client) -> None:
    one = await ask(mcp_client, prompt="a")
    two = await ask(mcp_client, prompt="b")
    assert one["conversation_id"] != two["conversation_id"]


async def test_unknown_conversation_is_an_error_not_a_fresh_start(
    mcp_client: Client, emulator: Emulator
) -> None:
    result = await mcp_client.call_tool(
        "ask_kimi", {"prompt": "hi", "conversation_id": "conv_doesnotexist"}
    )
    message = error_text(result)
    assert "Unknown conversation_id" in message and "Omit conversation_id" in message
    assert chats(emulator) == []


async def test_a_conversation_survives_a_server_restart(
    settings: Settings, emulator: Emulator
) -> None:
    async with Client(build_server(settings)) as client:
        first = await ask(client, prompt="remember the word pelican")
    async with Client(build_server(settings)) as client:  # a new server, same data_dir
        await ask(client, prompt="which word?", conversation_id=first["conversation_id"])
    contents = [m["content"] for m in chats(emulator)[-1].json["messages"]]
    assert contents[0] == "remember the word pelican"
    assert (settings.data_dir / "conversations.sqlite3").is_file()


async def test_a_long_conversation_is_trimmed_oldest_first(
    mcp_client: Client, emulator: Emulator
) -> None:
    # moonshot-v1-8k: 8,192 tokens, 2,048 kept for the answer. Each turn is ~1,200 tokens.
    emulator.reply = lambda messages: "ok " * 10
    filler = "word " * 1000
    conversation = None
    for index in range(8):
        args: dict[str, Any] = {"prompt": f"part {index} {filler}", "model": "moonshot-v1-8k"}
        if conversation:
            args["conversation_id"] = conversation
        result = await ask(mcp_client, **args)
        conversation = result["conversation_id"]
    assert result["dropped_turns"] > 0 and not result["truncated"]
    sent = chats(emulator)[-1].json["messages"]
    assert sent[0]["role"] == "user" and sent[-1]["content"].startswith("part 7")
    assert "part 0 " not in " ".join(m["content"] for m in sent)
    counted = [r for r in emulator.requests if r.path == "/v1/tokenizers/estimate-token-count"]
    assert counted, "Kimi's own count was not asked when the history might not fit"
    assert emulator.count_tokens(sent) <= 8192 - 2048
    # Stored turns are counted once: the last call counted only what was new since the one
    # before it (the previous answer and the new question), one message per count.
    last_chat = chats(emulator)[-2].time
    new_counts = [r for r in counted if r.time > last_chat]
    assert 1 <= len(new_counts) <= 2
    assert all(r.json is not None and len(r.json["messages"]) == 1 for r in new_counts)


async def test_conversations_are_listed_and_shown_as_resources(mcp_client: Client) -> None:
    first = await ask(mcp_client, prompt="the resource question")
    await ask(mcp_client, prompt="follow-up", conversation_id=first["conversation_id"])
    listing = await mcp_client.read_resource("kimi://conversations")
    entries = json.loads(text_of_resource(listing))
    assert entries[0]["id"] == first["conversation_id"]
    assert entries[0]["turns"] == 4 and entries[0]["first_prompt"] == "the resource question"
    shown = await mcp_client.read_resource(f"kimi://conversations/{first['conversation_id']}")
    turns = json.loads(text_of_resource(shown))["turns"]
    assert [t["content"] for t in turns if t["role"] == "user"] == [
        "the resource question",
        "follow-up",
    ]


async def test_an_unknown_conversation_resource_is_an_error(mcp_client: Client) -> None:
    with pytest.raises(MCPError):
        await mcp_client.read_resource("kimi://conversations/conv_nope")


def text_of_resource(result: Any) -> str:
    return "".join(getattr(content, "text", "") for content in result.contents)


async def test_conversations_are_listed_by_a_tool_newest_first(mcp_client: Client) -> None:
    older = await ask(mcp_client, prompt="the older question")
    newer = await ask(mcp_client, prompt="the newer question")
    listed = ok(await mcp_client.call_tool("list_conversations", {"limit": 5}))
    ids = [entry["conversation_id"] for entry in listed["conversations"]]
    assert ids[:2] == [newer["conversation_id"], older["conversation_id"]]
    assert listed["conversations"][0]["first_prompt"] == "the newer question"
    assert listed["conversations"][0]["turns"] == 2
    assert listed["conversations"][0]["updated_at"].endswith("+00:00")
    one = ok(await mcp_client.call_tool("list_conversations", {"limit": 1}))
    assert one["count"] == 1


async def test_a_deleted_conversation_cannot_be_continued_and_says_why(
    mcp_client: Client, emulator: Emulator
) -> None:
    first = await ask(mcp_client, prompt="forget me")
    conversation = first["conversation_id"]
    deleted = ok(
        await mcp_client.call_tool("delete_conversation", {"conversation_id": conversation})
    )
    assert deleted == {"conversation_id": conversation, "deleted": True}
    sent_before = len(chats(emulator))
    result = await mcp_client.call_tool(
        "ask_kimi", {"prompt": "still there?", "conversation_id": conversation}
    )
    assert "was deleted" in error_text(result)
    assert len(chats(emulator)) == sent_before  # nothing was sent
    listed = ok(await mcp_client.call_tool("list_conversations", {}))
    assert conversation not in [c["conversation_id"] for c in listed["conversations"]]
    again = await mcp_client.call_tool("delete_conversation", {"conversation_id": conversation})
    assert "was deleted" in error_text(again)
    unknown = await mcp_client.call_tool("delete_conversation", {"conversation_id": "conv_nope"})
    assert "does not exist" in error_text(unknown)
