"""Owners over real HTTP: with `auth_tokens`, each client sees only its own conversations."""

import json
from pathlib import Path
from typing import Literal

import anyio
import httpx2
import pytest
from mcp import Client, MCPError

from kimi_mcp.emulator import Emulator
from tests.conftest import CANARY_KEY
from tests.e2e.conftest import (
    RAW_INITIALIZE,
    START_TIMEOUT,
    TEST_TOKEN,
    auth_headers,
    http_server,
    mcp_http_client,
    server_env,
)
from tests.tool_results import chats, error_text, ok

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

ALICE = "alice-token-5d0c1e9f7a2b4c6d"
BOB = "bob-token-8e3f6a1c9d2b7e4f"


async def _refusals(client: Client, conversation_id: str) -> list[str]:
    """What a client is told when it reads, continues and deletes `conversation_id`."""
    told = []
    try:
        await client.read_resource(f"kimi://conversations/{conversation_id}")
    except MCPError as exc:
        told.append(str(exc))
    asked = await client.call_tool(
        "ask_kimi", {"prompt": "continue it", "conversation_id": conversation_id}
    )
    told.append(error_text(asked))
    deleted = await client.call_tool("delete_conversation", {"conversation_id": conversation_id})
    told.append(error_text(deleted))
    return [text.replace(conversation_id, "<id>") for text in told]


async def _listed(client: Client) -> tuple[list[str], list[str]]:
    tool = ok(await client.call_tool("list_conversations", {}))
    resource = await client.read_resource("kimi://conversations")
    shown = json.loads("".join(getattr(c, "text", "") for c in resource.contents))
    return [c["conversation_id"] for c in tool["conversations"]], [c["id"] for c in shown]


@pytest.mark.parametrize("mode", ["legacy", "auto"])  # sessions, and the 2026 per-request era
async def test_each_http_client_sees_only_its_own_conversations(
    emulator_url: str, emulator: Emulator, workdir: Path, mode: Literal["legacy", "auto"]
) -> None:
    """No isolation between HTTP clients: anyone with the token saw and deleted everything."""
    tokens = json.dumps({ALICE: "alice", BOB: "bob"})
    env = server_env(emulator_url, workdir, KIMI_MCP_AUTH_TOKENS=tokens)
    async with http_server(env, workdir) as (url, log):
        with anyio.fail_after(START_TIMEOUT * 3):
            async with (
                mcp_http_client(url, ALICE, mode) as alice,
                mcp_http_client(url, BOB, mode) as bob,
                mcp_http_client(url, TEST_TOKEN, mode) as default,
            ):
                mine = ok(await alice.call_tool("ask_kimi", {"prompt": "alice's private plan"}))
                conversation = mine["conversation_id"]
                sent = len(chats(emulator))

                assert await _listed(bob) == ([], [])
                assert await _listed(default) == ([], [])
                as_bob = await _refusals(bob, conversation)
                unknown = await _refusals(bob, "conv_0123456789abcdef01234567")
                assert as_bob == unknown  # another owner's id answers exactly like an unknown one
                assert "does not exist" in as_bob[1] and "does not exist" in as_bob[2]
                assert len(chats(emulator)) == sent  # bob's continuation reached nobody

                assert await _listed(alice) == ([conversation], [conversation])
                again = await alice.call_tool(
                    "ask_kimi", {"prompt": "still mine?", "conversation_id": conversation}
                )
                assert ok(again)["stored"] is True
                gone = await alice.call_tool(
                    "delete_conversation", {"conversation_id": conversation}
                )
                assert ok(gone)["deleted"] is True
    for secret in (ALICE, BOB, TEST_TOKEN, CANARY_KEY):
        assert secret not in log.text


async def test_one_owner_cannot_use_another_owners_session(
    emulator_url: str, workdir: Path
) -> None:
    """Owners x sessions: holding alice's session id, bob could open its stream or end it."""
    tokens = json.dumps({ALICE: "alice", BOB: "bob"})
    env = server_env(emulator_url, workdir, KIMI_MCP_AUTH_TOKENS=tokens)
    accept = {"Accept": "application/json, text/event-stream"}
    async with http_server(env, workdir) as (url, _), httpx2.AsyncClient(timeout=30) as http:
        as_alice = {**accept, **auth_headers(ALICE)}
        opened = await http.post(url, json=RAW_INITIALIZE, headers=as_alice)
        assert opened.status_code == 200
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}
        as_bob = {**session, **auth_headers(BOB)}
        assert (await http.delete(url, headers=as_bob)).status_code == 404
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert (await http.post(url, json=ping, headers={**accept, **as_bob})).status_code == 404
        answered = await http.post(url, json=ping, headers={**as_alice, **session})
        assert answered.status_code == 200
