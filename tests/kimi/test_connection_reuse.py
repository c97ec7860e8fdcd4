"""Keep-alive under concurrency: every connection the pool opened for a burst of calls is kept for
the next burst (against Kimi each new one is a TCP and TLS handshake), counted at a loopback
proxy in front of the emulator."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from anyio.abc import SocketStream
from pydantic import SecretStr

from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.upstream import LIMITS
from tests.conftest import CANARY_KEY

pytestmark = pytest.mark.anyio

BURST = LIMITS.max_connections or 20  # as many calls in flight as the pool may open connections


@asynccontextmanager
async def counting_proxy(upstream_url: str) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP relay on loopback to the emulator; yields its base URL and the connection count."""
    host, port = upstream_url.removeprefix("http://").split("/")[0].split(":")
    accepted = [0]

    async def relay(source: SocketStream, sink: SocketStream) -> None:
        async with sink:
            async for chunk in source:
                await sink.send(chunk)

    async def serve(client: SocketStream) -> None:
        accepted[0] += 1
        server = await anyio.connect_tcp(host, int(port))
        async with client, server, anyio.create_task_group() as group:
            group.start_soon(relay, server, client)
            await relay(client, server)
            group.cancel_scope.cancel()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, serve)
        proxy_port = listener.extra(anyio.abc.SocketAttribute.local_port)
        yield f"http://127.0.0.1:{proxy_port}/v1", accepted
        group.cancel_scope.cancel()


async def burst(client: KimiClient) -> None:
    async def one() -> None:
        await client.balance(deadline=anyio.current_time() + 20)

    async with anyio.create_task_group() as group:
        for _ in range(BURST):
            group.start_soon(one)


async def test_a_second_burst_of_calls_reuses_every_connection_of_the_first(
    emulator_url: str,
) -> None:
    async with counting_proxy(emulator_url) as (base_url, accepted):
        client = KimiClient(api_key=SecretStr(CANARY_KEY), base_url=base_url, user_agent="t")
        try:
            with anyio.fail_after(30):
                await burst(client)
                opened = accepted[0]
                await burst(client)
        finally:
            await client.aclose()
    assert opened > BURST // 2  # the burst was concurrent enough to need many connections
    assert accepted[0] == opened  # and the second burst found them all kept alive
