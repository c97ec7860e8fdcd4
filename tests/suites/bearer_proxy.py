"""A loopback proxy that adds `Authorization: Bearer <token>` to every request it forwards.

The official conformance suite has no option for a header, and kimi-mcp's HTTP transport always
wants its token; this shim sits between them in the tests only. Everything else passes through
as sent (the Host and Origin headers too, so the suite's DNS-rebinding checks reach the server's
guard), and responses stream back as they arrive (SSE included).
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2
import uvicorn
from starlette.types import Message, Receive, Scope, Send

# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business on each leg.
_HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade"}
START_TIMEOUT = 10


class BearerProxy:
    """ASGI app forwarding to `upstream` (scheme://host:port) with the bearer token added."""

    def __init__(self, upstream: str, token: str, client: httpx2.AsyncClient) -> None:
        self.upstream, self.client = upstream, client
        self.authorization = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:  # requests are small JSON-RPC messages: read them whole
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [
            (name, value)
            for name, value in scope["headers"]
            if name.lower() not in _HOP_BY_HOP | {b"authorization", b"content-length"}
        ]
        headers.append((b"authorization", self.authorization))
        query = f"?{scope['query_string'].decode()}" if scope["query_string"] else ""
        request = self.client.build_request(
            scope["method"],
            f"{self.upstream}{scope['path']}{query}",
            headers=headers,
            content=bytes(body),
        )
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_on_disconnect, receive, group.cancel_scope)
            await self._relay(request, send)
            group.cancel_scope.cancel()

    async def _relay(self, request: httpx2.Request, send: Send) -> None:
        response = await self.client.send(request, stream=True)
        try:
            headers = [
                (name, value)
                for name, value in response.headers.raw
                if name.lower() not in _HOP_BY_HOP
            ]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": headers}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


async def _cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """A client that hangs up (a GET stream it is done with) ends the upstream request too."""
    message: Message = {}
    while message.get("type") != "http.disconnect":
        message = await receive()
    scope.cancel()


class _Server(uvicorn.Server):
    """uvicorn that says when its start-up is over (started or failed)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


@asynccontextmanager
async def bearer_proxy(upstream: str, token: str) -> AsyncIterator[str]:
    """Serve the proxy on a free loopback port; yields its base URL (http://127.0.0.1:PORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    timeout = httpx2.Timeout(30, read=None)  # SSE streams stay open as long as the client wants
    async with httpx2.AsyncClient(timeout=timeout) as client:
        app = BearerProxy(upstream, token, client)
        config = uvicorn.Config(
            app,
            log_level="warning",
            log_config=None,
            lifespan="off",
            access_log=False,
            http="h11",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        server = _Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            with anyio.fail_after(START_TIMEOUT):
                await server.ready.wait()
            if not server.started:
                await task  # raises the start-up error
            yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        finally:
            server.should_exit = True
            with anyio.fail_after(START_TIMEOUT):
                await task
            sock.close()
