"""Three kimi-mcp replicas on one store behind haproxy (deploy/haproxy.cfg): one server to the
team's clients, whichever replica serves each request."""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.types import ListRootsResult, Root

from kimi_mcp.emulator import Emulator, Fault
from tests.e2e.conftest import START_TIMEOUT, TEST_TOKEN, auth_headers, mcp_http_client
from tests.team.cluster import ALICE, BOB, cluster
from tests.tool_results import chats, error_text, ok

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

Store = tuple[str, str | None]
Era = Literal["legacy", "auto"]


async def turns_of(client: Client, conversation_id: str) -> list[dict[str, Any]]:
    read = await client.read_resource(f"kimi://conversations/{conversation_id}")
    shown = json.loads("".join(getattr(c, "text", "") for c in read.contents))
    turns: list[dict[str, Any]] = shown["turns"]
    return turns


async def ask(client: Client, prompt: str, conversation_id: str | None = None) -> str:
    arguments = {"prompt": prompt}
    if conversation_id is not None:
        arguments["conversation_id"] = conversation_id
    answered = ok(await client.call_tool("ask_kimi", arguments))
    assert answered["stored"] is True
    return str(answered["conversation_id"])


async def test_a_conversation_continues_through_every_replica_in_both_eras(
    emulator_url: str, workdir: Path, store: Store
) -> None:
    async with cluster(emulator_url, workdir, *store) as team:
        one, two, three = (r.url for r in team.replicas)
        with anyio.fail_after(START_TIMEOUT * 3):
            async with mcp_http_client(one, mode="auto") as client:
                conversation = await ask(client, "turn 1, on replica one")
            async with mcp_http_client(two, mode="legacy") as client:
                await ask(client, "turn 2, on replica two", conversation)
            async with mcp_http_client(three, mode="auto") as client:
                await ask(client, "turn 3, on replica three", conversation)
            # Through the balancer: a legacy session stays on its replica (sticky by
            # Mcp-Session-Id); 2026-era calls go round the three.
            for era in ("legacy", "auto"):
                async with mcp_http_client(team.balancer, mode=era) as client:
                    for n in range(3):
                        await ask(client, f"{era} call {n} through the balancer", conversation)
            async with mcp_http_client(two, mode="auto") as client:
                turns = await turns_of(client, conversation)
    questions = [t["content"] for t in turns if t["role"] == "user"]
    assert len(questions) == 9 and questions[0] == "turn 1, on replica one"
    assert questions[-1] == "auto call 2 through the balancer"


class Alternating(httpx2.AsyncBaseTransport):
    """Sends each request to the next replica in turn, as a balancer without stickiness may;
    records which replica got each tools/call."""

    def __init__(self, bases: list[str]) -> None:
        self.bases, self.sent = bases, 0
        self.inner = httpx2.AsyncHTTPTransport()
        self.tool_calls: list[tuple[str, bool]] = []  # (replica, carried request state)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        target = httpx2.URL(self.bases[self.sent % len(self.bases)])
        self.sent += 1
        raw = await request.aread()
        body = json.loads(raw or b"{}")
        if isinstance(body, dict) and body.get("method") == "tools/call":
            self.tool_calls.append((str(target), "requestState" in body.get("params", {})))
        moved = request.url.copy_with(host=target.host, port=target.port)
        routed = httpx2.Request(request.method, moved, headers=request.headers, content=raw)
        return await self.inner.handle_async_request(routed)

    async def aclose(self) -> None:
        await self.inner.aclose()


@asynccontextmanager
async def alternating_client(
    bases: list[str], roots: list[Root]
) -> AsyncIterator[tuple[Client, Alternating]]:
    async def list_roots(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=roots)

    transport = Alternating(bases)
    http = httpx2.AsyncClient(headers=auth_headers(), transport=transport, timeout=30)
    url = f"{bases[0]}/mcp"
    connection = streamable_http_client(url, http_client=http)
    async with http, Client(connection, mode="auto", list_roots_callback=list_roots) as client:
        yield client, transport


async def test_a_2026_request_that_asks_the_client_for_roots_resumes_on_another_replica(
    emulator_url: str, workdir: Path, store: Store
) -> None:
    """The sealed request state of the second round trip must open on any replica: with a key
    per process, a request started on one replica was refused by the next."""
    (workdir / "notes.txt").write_text("minutes of the meeting\n", encoding="utf-8")
    roots = [Root(uri=workdir.as_uri())]
    async with cluster(emulator_url, workdir, *store) as team:
        bases = [r.base for r in team.replicas[:2]]
        with anyio.fail_after(START_TIMEOUT * 3):
            async with alternating_client(bases, roots) as (client, transport):
                uploaded = ok(await client.call_tool("upload_file", {"path": "notes.txt"}))
    assert uploaded["id"]
    [(first, fresh), (second, resumed)] = transport.tool_calls[-2:]
    assert first != second and not fresh and resumed  # started on one, resumed on the other


async def test_two_owners_do_not_see_each_others_conversations_on_any_replica(
    emulator_url: str, emulator: Emulator, workdir: Path, store: Store
) -> None:
    async with cluster(emulator_url, workdir, *store) as team:
        one, two, three = (r.url for r in team.replicas)
        with anyio.fail_after(START_TIMEOUT * 3):
            async with mcp_http_client(one, ALICE) as alice:
                conversation = await ask(alice, "alice's private plan")
            sent = len(chats(emulator))
            for url in (two, three, team.balancer):
                async with mcp_http_client(url, BOB) as bob:
                    listed = ok(await bob.call_tool("list_conversations", {}))
                    assert listed["conversations"] == []
                    refused = await bob.call_tool(
                        "ask_kimi", {"prompt": "continue it", "conversation_id": conversation}
                    )
                    assert "does not exist" in error_text(refused)
            assert len(chats(emulator)) == sent  # bob's continuations reached nobody
            async with mcp_http_client(three, ALICE) as alice:
                listed = ok(await alice.call_tool("list_conversations", {}))
    assert [c["conversation_id"] for c in listed["conversations"]] == [conversation]


async def test_the_same_document_uploaded_through_two_replicas_at_once_is_uploaded_once(
    emulator_url: str, emulator: Emulator, workdir: Path, store: Store
) -> None:
    (workdir / "report.txt").write_bytes(b"quarterly numbers\n" * 1000)
    results: list[dict[str, Any]] = []

    async def upload(url: str) -> None:
        async with mcp_http_client(url) as client:
            results.append(ok(await client.call_tool("upload_file", {"path": "report.txt"})))

    async with cluster(emulator_url, workdir, *store) as team:
        emulator.inject(Fault("slow", path="/v1/files", method="POST", delay=2.0, times=2))
        with anyio.fail_after(START_TIMEOUT * 3):
            async with anyio.create_task_group() as group:
                group.start_soon(upload, team.replicas[0].url)
                group.start_soon(upload, team.replicas[1].url)
    posts = [r for r in emulator.requests if r.path == "/v1/files" and r.method == "POST"]
    assert len(posts) == 1 and len(emulator.files) == 1
    assert len({r["id"] for r in results}) == 1
    assert sorted(r["reused"] for r in results) == [False, True]


async def test_the_daily_cap_holds_across_replicas(
    emulator_url: str, emulator: Emulator, workdir: Path, store: Store
) -> None:
    tiny_cap = "1e-9"  # any answer costs more: the first call starts under it, then none may
    async with cluster(emulator_url, workdir, *store, KIMI_MCP_DAILY_SPEND_CAP=tiny_cap) as team:
        with anyio.fail_after(START_TIMEOUT * 3):
            async with mcp_http_client(team.replicas[0].url) as client:
                await ask(client, "the one call today's cap allows")
            refusals = []
            for url in [r.url for r in team.replicas] + [team.balancer]:
                async with mcp_http_client(url, TEST_TOKEN) as client:
                    refusals.append(error_text(await client.call_tool("ask_kimi", {"prompt": "x"})))
    assert all("daily_spend_cap" in refusal for refusal in refusals)
    assert len(chats(emulator)) == 1
