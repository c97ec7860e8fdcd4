"""Store first, then bill: a store that cannot be used stops ask_kimi before anything is sent, and
an answer already streamed is returned even when it cannot be kept (`stored: false`)."""

import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from kimi_mcp.config import Settings
from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.server import build_server
from kimi_mcp.store.conversations import DEFAULT_OWNER
from kimi_mcp.store.sqlite_conversations import SqliteConversationStore
from tests.tool_results import chats, error_text, ok

pytestmark = pytest.mark.anyio


def _store_path(settings: Settings) -> Path:
    return settings.data_dir / "conversations.sqlite3"


def _foreign(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE accounts (name TEXT)")
    db.close()


def _not_sqlite(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("my notes, not a database\n" * 50)


def _directory(path: Path) -> None:
    path.mkdir(parents=True)


@pytest.mark.parametrize("fault", [_foreign, _not_sqlite, _directory])
async def test_an_unusable_store_stops_ask_kimi_before_anything_is_billed(
    settings: Settings, emulator: Emulator, fault: Any
) -> None:
    """Billed answers thrown away: the store was opened only after the answer streamed."""
    path = _store_path(settings)
    fault(path)
    before = path.read_bytes() if path.is_file() else None
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("ask_kimi", {"prompt": "an expensive question"})
    message = error_text(result)
    assert str(path) in message, message
    assert "Nothing was sent to Kimi" in message and "failed unexpectedly" not in message
    assert "KIMI_MCP_DATA_DIR" in message  # the fix is named
    assert chats(emulator) == [] and emulator.requests == []
    if before is not None:
        assert path.read_bytes() == before  # another program's file is left as it was


async def test_store_errors_are_clear_errors_not_a_kimi_mcp_bug(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Store errors were "a kimi-mcp bug; report it" and named neither the file nor the fix."""
    _directory(_store_path(settings))
    async with Client(build_server(settings)) as client:
        listed = await client.call_tool("list_conversations", {})
        deleted = await client.call_tool("delete_conversation", {"conversation_id": "conv_x"})
    for result in (listed, deleted):
        message = error_text(result)
        assert str(_store_path(settings)) in message and "not a regular file" in message
        assert "unexpectedly" not in message
    assert "kimi-mcp bug" not in caplog.text


async def test_an_answer_whose_conversation_is_deleted_meanwhile_is_returned_not_stored(
    settings: Settings, emulator: Emulator
) -> None:
    """A deleted conversation came back: the ask in flight re-created it with its turns."""
    async with Client(build_server(settings)) as client:
        first = ok(await client.call_tool("ask_kimi", {"prompt": "start"}))
        conversation = first["conversation_id"]
        other = SqliteConversationStore(_store_path(settings))  # delete_conversation, elsewhere

        def delete_while_answering(messages: list[dict[str, Any]]) -> str:
            other._delete(conversation, DEFAULT_OWNER)  # after the load, before the append
            return "the billed answer"

        emulator.reply = delete_while_answering
        late = ok(
            await client.call_tool(
                "ask_kimi", {"prompt": "second", "conversation_id": conversation}
            )
        )
        await other.aclose()
        assert late["answer"] == "the billed answer" and late["stored"] is False
        assert "was deleted while Kimi answered" in late["store_error"]
        listed = ok(await client.call_tool("list_conversations", {}))
        assert listed["count"] == 0
        again = await client.call_tool(
            "ask_kimi", {"prompt": "third", "conversation_id": conversation}
        )
        assert "was deleted" in error_text(again)


async def test_an_answer_the_store_fails_to_keep_after_streaming_is_returned_not_stored(
    settings: Settings, emulator: Emulator
) -> None:
    """Billed answers thrown away: the store failing after the answer streamed (a disk gone bad,
    another program at the file) cost the whole billed answer."""
    async with Client(build_server(settings)) as client:
        ok(await client.call_tool("ask_kimi", {"prompt": "open the store"}))

        def break_the_store(messages: list[dict[str, Any]]) -> str:
            # While Kimi answers, the file loses the table the answer goes to.
            with sqlite3.connect(_store_path(settings)) as db:
                db.execute("DROP TABLE turns")
            return "the billed answer"

        emulator.reply = break_the_store
        late = ok(await client.call_tool("ask_kimi", {"prompt": "second"}))
    assert late["answer"] == "the billed answer" and late["stored"] is False
    assert str(_store_path(settings)) in late["store_error"]


async def test_a_stored_answer_says_so(mcp_client: Client) -> None:
    result = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "keep me"}))
    assert (result["stored"], result["store_error"]) == (True, None)


def _sse_answer(escaped_text: str) -> str:
    """A whole chat stream as Kimi sends it, its text given JSON-escaped (\\ud83d stays lone)."""
    head = '{"id":"c1","object":"chat.completion.chunk","created":1,"model":"kimi-k2.6",'
    content = head + '"choices":[{"index":0,"delta":{"role":"assistant","content":"%s"}}]}'
    usage = '{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8,"cached_tokens":0}'
    final = head + '"choices":[{"index":0,"delta":{},"finish_reason":"stop","usage":%s}]}'
    return "".join(
        f"data: {event}\n\n" for event in (content % escaped_text, final % usage, "[DONE]")
    )


async def test_an_answer_with_a_lone_surrogate_is_returned_and_kept_exactly(
    mcp_client: Client, emulator: Emulator
) -> None:
    """Billed answers thrown away: an answer holding a lone surrogate could not be stored."""
    headers = {"Content-Type": "text/event-stream"}
    body = _sse_answer("half a pair \\ud83d here")
    emulator.inject(Fault("raw", status=200, body=body, headers=headers))
    first = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "say something odd"}))
    # JSON-RPC cannot carry a lone surrogate raw: the result shows U+FFFD in its place...
    assert first["answer"] == "half a pair \ufffd here" and first["stored"] is True
    # ...and the conversation keeps it exactly (escaped in the resource's JSON).
    shown = await mcp_client.read_resource(f"kimi://conversations/{first['conversation_id']}")
    turns = json.loads("".join(getattr(c, "text", "") for c in shown.contents))["turns"]
    assert turns[1]["content"] == "half a pair \ud83d here"


async def test_concurrent_asks_on_one_conversation_keep_every_document(
    mcp_client: Client, emulator: Emulator, workdir: Path
) -> None:
    """Concurrent asks on one conversation lost a document: file_ids was last-writer-wins."""
    ids = []
    for name in ("one.txt", "two.txt", "three.txt"):
        (workdir / name).write_text(f"document {name}")
        uploaded = ok(await mcp_client.call_tool("upload_file", {"path": str(workdir / name)}))
        ids.append(uploaded["id"])
    first = ok(await mcp_client.call_tool("ask_kimi", {"prompt": "start", "file_ids": ids[:1]}))
    conversation = first["conversation_id"]
    emulator.stream_delay = 0.05  # both calls stream at once, each ending with its append

    async def ask_with(file_id: str) -> None:
        args = {"prompt": f"read {file_id}", "conversation_id": conversation, "file_ids": [file_id]}
        assert ok(await mcp_client.call_tool("ask_kimi", args))["stored"] is True

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for file_id in ids[1:]:
                group.start_soon(ask_with, file_id)
    emulator.stream_delay = 0
    last = ok(
        await mcp_client.call_tool("ask_kimi", {"prompt": "all?", "conversation_id": conversation})
    )
    assert sorted(last["file_ids"]) == sorted(ids)


async def test_an_unusable_upload_ledger_is_a_clear_error_and_nothing_is_uploaded(
    settings: Settings, emulator: Emulator, workdir: Path
) -> None:
    """Store errors (the ledger's too) were "a kimi-mcp bug" naming neither file nor fix."""
    ledger = settings.data_dir / "uploads.sqlite3"
    _not_sqlite(ledger)
    (workdir / "notes.txt").write_text("some notes")
    async with Client(build_server(settings)) as client:
        result = await client.call_tool("upload_file", {"path": str(workdir / "notes.txt")})
    message = error_text(result)
    assert str(ledger) in message and "Move it aside" in message
    assert "unexpectedly" not in message
    assert [r for r in emulator.requests if r.method == "POST"] == []
