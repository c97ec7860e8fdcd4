"""A JSON answer of a declared length is read in one go and kept as httpx2 read it, and the size
cap still holds wherever the declared length does not bound what is read: a body that inflates
(gzip), a transport that does not frame by the length, bytes sent past the declared length."""

import asyncio
import gzip
import json
from collections.abc import AsyncIterator

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from kimi_mcp.errors import ResponseValidationError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.connection import Connection
from kimi_mcp.kimi.upstream import read_capped, read_response
from tests.conftest import CANARY_KEY
from tests.kimi.fault_server import MODELS, RawServer, raw_server

pytestmark = pytest.mark.anyio

BALANCE = {
    "code": 0,
    "data": {"available_balance": 1.5, "voucher_balance": 1.0, "cash_balance": 0.5},
    "scode": "0x0",
    "status": True,
}
CAP = 1000  # bytes, for the reads below
DEADLINE = 10.0


class Chunks(httpx2.AsyncByteStream):
    """A body sent in pieces, whatever the headers declare."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


async def streamed(headers: dict[str, str], *pieces: bytes) -> httpx2.Response:
    """A response as Connection gets it: streamed, its body not read yet."""

    def reply(_: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, stream=Chunks(*pieces))

    transport = httpx2.MockTransport(reply)
    http = httpx2.AsyncClient(transport=transport, base_url="http://kimi.test/v1")
    return await http.send(http.build_request("GET", "/files/f/content"), stream=True)


async def test_a_json_answer_is_the_response_httpx2_read_not_a_copy_built_around_its_body() -> None:
    answered: list[httpx2.Response] = []

    def reply(_: httpx2.Request) -> httpx2.Response:
        answered.append(httpx2.Response(200, json=BALANCE))
        return answered[-1]

    connection = Connection(
        api_key=SecretStr(CANARY_KEY),
        base_url="http://kimi.test/v1",
        user_agent="test",
        timeout=5.0,
        max_retries=0,
        backoff=0.0,
        transport=httpx2.MockTransport(reply),
    )
    try:
        response = await connection.send(
            "GET", "/users/me/balance", deadline=anyio.current_time() + DEADLINE
        )
    finally:
        await connection.aclose()
    assert response is answered[0]  # one Response per answer: none rebuilt around the body
    assert json.loads(response.content) == BALANCE


async def test_a_small_gzip_body_that_inflates_past_the_cap_is_refused() -> None:
    packed = gzip.compress(b"0" * (CAP * 20))
    headers = {"Content-Encoding": "gzip", "Content-Length": str(len(packed))}
    assert len(packed) < CAP
    for read in (read_response, read_capped):
        response = await streamed(headers, packed)
        with pytest.raises(ResponseValidationError, match="larger than"):
            await read(response, CAP)


async def test_a_body_longer_than_its_declared_length_is_refused_past_the_cap() -> None:
    # Only a transport that does not frame by the length can deliver this (h11 stops at it).
    headers = {"Content-Length": "10"}
    for read in (read_response, read_capped):
        response = await streamed(headers, b"x" * CAP, b"x" * CAP)
        with pytest.raises(ResponseValidationError, match="larger than"):
            await read(response, CAP)


async def test_a_chunked_body_that_also_declares_a_length_is_counted() -> None:
    headers = {"Content-Length": "10", "Transfer-Encoding": "chunked"}
    response = await streamed(headers, b"x" * CAP, b"x" * CAP)
    with pytest.raises(ResponseValidationError, match="larger than"):
        await read_response(response, CAP)


async def test_bytes_sent_past_the_declared_length_are_not_read_as_the_answer() -> None:
    """Over a real socket: the answer is exactly the declared bytes, and the 20 MiB after them
    are never read into it."""
    body = MODELS.encode()

    async def overlong(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if not await server.read_request(reader):
            return
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        try:
            for _ in range(20):
                writer.write(b"x" * (1024 * 1024))
                await writer.drain()
        except ConnectionError:
            pass  # the client closed the connection it kept: nothing more to send

    async with raw_server(overlong) as (_, url):
        kimi = KimiClient(api_key=SecretStr(CANARY_KEY), base_url=url, user_agent="test")
        try:
            with anyio.fail_after(DEADLINE):
                models = await kimi.list_models(deadline=anyio.current_time() + DEADLINE)
        finally:
            await kimi.aclose()
    assert [model.id for model in models] == ["kimi-k2.6"]
