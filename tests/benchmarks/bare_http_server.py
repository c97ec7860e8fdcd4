"""The HTTP floor for check_balance: a bare MCPServer over streamable HTTP whose one tool makes
the same upstream call as kimi-mcp's check_balance (GET /users/me/balance through one shared
httpx2.AsyncClient with kimi-mcp's headers, timeouts and pool limits), so the ratio of the two
servers' calls/s is kimi-mcp's own cost.

    python tests/benchmarks/bare_http_server.py [PORT]     # 0 (default): any free port

MOONSHOT_BASE_URL and MOONSHOT_API_KEY name the upstream (the emulator). The bound URL goes to
stderr as "bare at http://127.0.0.1:PORT/mcp". Served like kimi-mcp (one uvicorn process, h11,
no access log), without kimi-mcp's bearer check, store or middleware: those are what is measured.
"""

import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver import Context

from kimi_mcp.kimi.upstream import LIMITS, timeouts

USER_AGENT = "kimi-mcp/bench"


@asynccontextmanager
async def lifespan(_: MCPServer[httpx2.AsyncClient]) -> AsyncIterator[httpx2.AsyncClient]:
    key = os.environ["MOONSHOT_API_KEY"]
    async with httpx2.AsyncClient(
        base_url=os.environ["MOONSHOT_BASE_URL"].rstrip("/"),
        headers={"Authorization": f"Bearer {key}", "User-Agent": USER_AGENT},
        timeout=timeouts(60.0),
        limits=LIMITS,
        follow_redirects=False,
    ) as http:
        yield http


# WARNING, kimi-mcp's default level: at the SDK's default (INFO) httpx2 logs every upstream
# request through rich, which would make this floor slower than kimi-mcp itself.
server = MCPServer[httpx2.AsyncClient](
    "bare-http", version="0", lifespan=lifespan, log_level="WARNING"
)


@server.tool()
async def check_balance(ctx: Context[httpx2.AsyncClient]) -> dict[str, Any]:
    """Show the balance."""
    response = await ctx.request_context.lifespan_context.get("/users/me/balance")
    response.raise_for_status()
    data: dict[str, Any] = response.json()["data"]
    return data


def bound_socket(port: int) -> socket.socket:
    # IPPROTO_TCP, as kimi-mcp binds: asyncio then sets TCP_NODELAY on each connection.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def main(port: int) -> None:
    app = server.streamable_http_app(streamable_http_path="/mcp", host="127.0.0.1")
    sock = bound_socket(port)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, http="h11", ws="none", server_header=False
    )
    print(f"bare at http://127.0.0.1:{sock.getsockname()[1]}/mcp", file=sys.stderr, flush=True)
    await uvicorn.Server(config).serve(sockets=[sock])


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
