"""A raw asyncio TCP server on 127.0.0.1 for the faults an ASGI app cannot produce: a reset
(SO_LINGER 0) after reading the request, half-written headers, and a keep-alive connection the
server closes while it sits idle in the client's pool."""

import asyncio
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

Behaviour = Callable[["RawServer", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
MODELS = json.dumps({"object": "list", "data": [{"id": "kimi-k2.6", "object": "model"}]})
READ_LIMIT = 5.0  # seconds a handler waits for a request: every wait here is bounded


@dataclass
class RawServer:
    """Counts what arrives; `idle_closed` is set each time a keep-alive connection is dropped."""

    behaviour: Behaviour
    connections: int = 0
    requests: list[str] = field(default_factory=list)  # request lines, e.g. "GET /v1/models"
    idle_closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.behaviour(self, reader, writer)
        finally:
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader, wait: float = READ_LIMIT) -> bool:
        """Read one request (head and Content-Length body); False when none came in `wait`."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), wait)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            return False
        lines = head.decode("latin-1").split("\r\n")
        self.requests.append(" ".join(lines[0].split(" ")[:2]))
        sizes = [
            line.split(":", 1)[1] for line in lines if line.lower().startswith("content-length:")
        ]
        await asyncio.wait_for(reader.readexactly(int(sizes[0]) if sizes else 0), READ_LIMIT)
        return True


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def reset_after_request(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    if await server.read_request(reader):
        reset(writer)


async def partial_headers(
    server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    if await server.read_request(reader):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: applic")
        await writer.drain()
        reset(writer)


def keep_alive_for(idle: float) -> Behaviour:
    """Answer the model list on a keep-alive connection, then close it after `idle` seconds
    without a next request (what nginx's keepalive_timeout does)."""

    async def serve(
        server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        wait = READ_LIMIT
        while await server.read_request(reader, wait):
            body = MODELS.encode()
            head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            head += f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
            wait = idle
        writer.close()  # a FIN while the connection sits idle in the client's pool
        await writer.wait_closed()
        server.idle_closed.set()

    return serve


@asynccontextmanager
async def raw_server(behaviour: Behaviour) -> AsyncIterator[tuple[RawServer, str]]:
    """Serve `behaviour` on a free loopback port; yields the server and its /v1 base URL."""
    state = RawServer(behaviour)
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield state, f"http://127.0.0.1:{port}/v1"
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), READ_LIMIT)
