"""Malformed HTTP input (reliability.md 5.2, HTTP table) against one real kimi-mcp child.

Every case is authenticated (the bearer check is not what is under test here) and ends with the
liveness probe: a fresh SDK session lists the tools and list_models reaches the emulator. The
server is shared by the module, so each probe also proves every earlier case left it healthy.
Where the table allows two answers, the test pins the one observed (SDK 2.3.0, uvicorn h11).
"""

import json
from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest

from tests.e2e.conftest import (
    RAW_INITIALIZE,
    START_TIMEOUT,
    TEST_TOKEN,
    Served,
    assert_alive,
    auth_headers,
    raw_http,
    status_of,
)

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

BOTH = "application/json, text/event-stream"
INIT = json.dumps(RAW_INITIALIZE).encode()
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
LIMIT = 4 * 1024 * 1024  # the SDK's default request body limit


@pytest.fixture
async def http(served: Served) -> AsyncIterator[httpx2.AsyncClient]:
    headers = auth_headers()
    async with httpx2.AsyncClient(headers=headers, timeout=START_TIMEOUT) as client:
        yield client
    await assert_alive(served.url)  # the liveness probe after every case


def raw_request(
    served: Served, method: str, headers: list[str], body: bytes = b"", length: int | None = None
) -> bytes:
    """An authenticated HTTP/1.1 request written by hand; Content-Length = `length` or len(body)."""
    port = httpx2.URL(served.url).port
    lines = [
        f"{method} /mcp HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Authorization: Bearer {TEST_TOKEN}",
        "Connection: close",
        f"Content-Length: {len(body) if length is None else length}",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _session(http: httpx2.AsyncClient, url: str) -> str:
    answer = await http.post(url, json=RAW_INITIALIZE, headers={"Accept": BOTH})
    assert answer.status_code == 200
    return answer.headers["mcp-session-id"]


async def test_content_type_text_plain_is_400(served: Served, http: httpx2.AsyncClient) -> None:
    """Content-Type text/plain: 400 (the table allows 400 or 415; the SDK answers 400)."""
    headers = {"Accept": BOTH, "Content-Type": "text/plain"}
    answer = await http.post(served.url, content=INIT, headers=headers)
    assert answer.status_code == 400


@pytest.mark.parametrize(
    "accept", ["application/json", "text/event-stream", "text/html"], ids=lambda a: a
)
async def test_post_without_both_media_types_is_406(
    served: Served, http: httpx2.AsyncClient, accept: str
) -> None:
    """Accept naming only one of JSON and SSE (or neither) on POST: 406."""
    answer = await http.post(served.url, json=RAW_INITIALIZE, headers={"Accept": accept})
    assert answer.status_code == 406


async def test_post_without_accept_is_406(served: Served, http: httpx2.AsyncClient) -> None:
    """No Accept header at all (raw: HTTP clients add `*/*`, which the SDK accepts): 406."""
    request = raw_request(served, "POST", ["Content-Type: application/json"], INIT)
    assert status_of(await raw_http(served.url, request)) == 406


@pytest.mark.parametrize("declared", [LIMIT + 1, 64 * 1024 * 1024], ids=["4MiB+1", "64MiB"])
async def test_oversized_content_length_is_413_before_the_body(
    served: Served, http: httpx2.AsyncClient, declared: int
) -> None:
    """A declared body over 4 MiB: 413 while not one body byte has been sent."""
    headers = ["Content-Type: application/json", f"Accept: {BOTH}"]
    request = raw_request(served, "POST", headers, length=declared)
    assert status_of(await raw_http(served.url, request)) == 413


async def test_oversized_chunked_body_is_413(served: Served, http: httpx2.AsyncClient) -> None:
    """4 MiB + 1 chunked (no length to check up front): 413 once the limit is crossed; the SDK
    holds at most 4 MiB of it."""

    async def body() -> AsyncIterator[bytes]:
        for _ in range(LIMIT // 65536):
            yield b" " * 65536
        yield b" "

    headers = {"Accept": BOTH, "Content-Type": "application/json"}
    answer = await http.post(served.url, content=body(), headers=headers)
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert answer.status_code == 413


async def test_content_length_shorter_than_the_body_is_400(
    served: Served, http: httpx2.AsyncClient
) -> None:
    """A Content-Length that cuts the JSON short: 400 parse error; the leftover bytes are then
    a malformed request of their own, and the connection closes."""
    headers = ["Content-Type: application/json", f"Accept: {BOTH}"]
    request = raw_request(served, "POST", headers, INIT, length=10)
    answer = await raw_http(served.url, request)
    assert status_of(answer) == 400 and b"Parse error" in answer


async def test_content_length_longer_than_the_body_then_eof(
    served: Served, http: httpx2.AsyncClient
) -> None:
    """More declared than sent, then the client closes its side: the server closes the
    connection without an answer (nobody is left to read one) and stays up."""
    headers = ["Content-Type: application/json", f"Accept: {BOTH}"]
    request = raw_request(served, "POST", headers, INIT[:11], length=1000)
    assert await raw_http(served.url, request, half_close=True) == b""


async def test_a_stalled_body_does_not_block_other_clients(
    served: Served, http: httpx2.AsyncClient
) -> None:
    """More declared than sent, connection held open: that request waits, others are served."""
    headers = ["Content-Type: application/json", f"Accept: {BOTH}"]
    request = raw_request(served, "POST", headers, INIT[:11], length=1000)
    port = httpx2.URL(served.url).port
    assert port is not None
    async with await anyio.connect_tcp("127.0.0.1", port) as stalled:
        await stalled.send(request)
        await assert_alive(served.url)


async def test_get_without_event_stream_is_406(served: Served, http: httpx2.AsyncClient) -> None:
    """GET (the standalone SSE stream) must accept text/event-stream: otherwise 406."""
    session = await _session(http, served.url)
    headers = {"Accept": "application/json", "Mcp-Session-Id": session}
    assert (await http.get(served.url, headers=headers)).status_code == 406


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_put_and_patch_are_405(served: Served, http: httpx2.AsyncClient, method: str) -> None:
    answer = await http.request(method, served.url, json=RAW_INITIALIZE, headers={"Accept": BOTH})
    assert answer.status_code == 405


async def test_unknown_path_is_404(served: Served, http: httpx2.AsyncClient) -> None:
    """With the token, an unknown path is 404 (without it, 401: auth covers every path)."""
    answer = await http.post(f"{served.base}/nope", json=RAW_INITIALIZE)
    assert answer.status_code == 404
    async with httpx2.AsyncClient(timeout=START_TIMEOUT) as bare:
        assert (await bare.post(f"{served.base}/nope")).status_code == 401


@pytest.mark.parametrize("in_session", [False, True], ids=["initialize", "in-session"])
@pytest.mark.parametrize("version", ["garbage", "2099-01-01"])
async def test_bad_protocol_version_header_is_400(
    served: Served, http: httpx2.AsyncClient, version: str, in_session: bool
) -> None:
    """MCP-Protocol-Version not a supported version: 400, on initialize and within a session."""
    headers = {"Accept": BOTH, "MCP-Protocol-Version": version}
    if in_session:
        headers["Mcp-Session-Id"] = await _session(http, served.url)
    message = TOOLS_LIST if in_session else RAW_INITIALIZE
    assert (await http.post(served.url, json=message, headers=headers)).status_code == 400


async def test_missing_session_id_after_initialize_is_400(
    served: Served, http: httpx2.AsyncClient
) -> None:
    await _session(http, served.url)
    answer = await http.post(served.url, json=TOOLS_LIST, headers={"Accept": BOTH})
    assert answer.status_code == 400


async def test_unknown_session_id_is_404(served: Served, http: httpx2.AsyncClient) -> None:
    headers = {"Accept": BOTH, "Mcp-Session-Id": "0" * 32}
    assert (await http.post(served.url, json=TOOLS_LIST, headers=headers)).status_code == 404


async def test_deleted_session_id_is_404(served: Served, http: httpx2.AsyncClient) -> None:
    session = await _session(http, served.url)
    assert (await http.delete(served.url, headers={"Mcp-Session-Id": session})).status_code == 200
    headers = {"Accept": BOTH, "Mcp-Session-Id": session}
    assert (await http.post(served.url, json=TOOLS_LIST, headers=headers)).status_code == 404


@pytest.mark.parametrize("session_id", [b"ab cd", b"ab\x7fcd", b"\xff\xfe", b"x" * 4096], ids=repr)
async def test_session_id_outside_visible_ascii_is_404(
    served: Served, http: httpx2.AsyncClient, session_id: bytes
) -> None:
    """Session ids with characters outside 0x21-0x7E (or absurdly long): 404, no such session."""
    headers = ["Content-Type: application/json", f"Accept: {BOTH}"]
    body = json.dumps(TOOLS_LIST).encode()
    request = raw_request(served, "POST", headers, body).replace(
        b"Connection: close", b"Connection: close\r\nMcp-Session-Id: " + session_id
    )
    assert status_of(await raw_http(served.url, request)) == 404


async def test_200_kb_header_is_400(served: Served, http: httpx2.AsyncClient) -> None:
    """A 200 KB header: uvicorn's h11 parser gives up past 16 KiB of request head with 400 and
    closes (the table allows 431 or 400)."""
    request = raw_request(served, "POST", [f"X-Big: {'x' * 200_000}"], INIT)
    answer = await raw_http(served.url, request)
    assert status_of(answer) == 400 and b"connection: close" in answer.lower()


@pytest.mark.parametrize("body", [b"not json", b"", b"[]", b"42", b'{"jsonrpc": "2.0"'], ids=repr)
async def test_bodies_that_are_not_one_json_rpc_message_are_400(
    served: Served, http: httpx2.AsyncClient, body: bytes
) -> None:
    """Each POST carries exactly one JSON-RPC message: anything else is a 400 JSON-RPC error."""
    headers = {"Accept": BOTH, "Content-Type": "application/json"}
    answer = await http.post(served.url, content=body, headers=headers)
    assert answer.status_code == 400 and answer.json()["error"]["code"] in (-32700, -32600, -32602)


@pytest.mark.slow
async def test_slowloris_does_not_starve_a_normal_client(
    served: Served, http: httpx2.AsyncClient
) -> None:
    """50 connections trickle a request head a byte at a time; normal clients are still served.

    Recorded: uvicorn (h11) has no request-head timeout, so such a connection stays open until
    its peer gives up; the asyncio server holds it at the cost of one socket. kimi-mcp leaves
    `limit_concurrency` unset on purpose: with it, trickling sockets would take the slots and
    normal clients would get 503. Exposed beyond loopback, a reverse proxy cuts slow heads.
    """
    port = httpx2.URL(served.url).port
    assert port is not None
    head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode()
    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(_trickle, port, head)
        for _ in range(5):
            await assert_alive(served.url)  # each within START_TIMEOUT, while they trickle
        group.cancel_scope.cancel()


async def _trickle(port: int, head: bytes) -> None:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(head)
        while True:  # until cancelled: a header that never ends
            await stream.send(b"x")
            await anyio.sleep(0.2)
