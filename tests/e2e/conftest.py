"""Helpers for real-process tests: kimi-mcp as a child over stdio or HTTP."""

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anyio
import httpx2
import pytest
from anyio.abc import Process
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from kimi_mcp.emulator import Emulator, serve_emulator
from tests.conftest import CANARY_KEY, TOOL_NAMES, assert_no_canary

RAW_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "0"},
    },
}
# The inbound bearer token the HTTP tests configure (never the Kimi key: start-up refuses that).
TEST_TOKEN = "kimi-mcp-test-token-3b9e5d71c2a4"
START_TIMEOUT = 20  # a cold interpreter importing the SDK takes ~1 s; generous for a busy CI box


def server_env(base_url: str | None, workdir: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "XDG_CONFIG_HOME": str(workdir / ".config"),
        "XDG_DATA_HOME": str(workdir / ".data"),
        "KIMI_MCP_ALLOWED_DIRS": str(workdir),
        "KIMI_MCP_LOG_LEVEL": "DEBUG",
        **extra,
    }
    if base_url is not None:
        env["MOONSHOT_API_KEY"] = CANARY_KEY
        env["MOONSHOT_BASE_URL"] = base_url
    return env


def stdio_params(env: dict[str, str], workdir: Path, *args: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "kimi_mcp", *args], env=env, cwd=str(workdir)
    )


class ServerLog:
    """Everything the child wrote to stderr, drained continuously so the pipe never fills."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.changed = anyio.Event()
        self.pid: int | None = None  # the child's process id, once started

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")

    async def drain(self, process: Process) -> None:
        assert process.stderr is not None
        async for chunk in process.stderr:
            self.data += chunk
            # The canary sweep over every child's stderr (5.7 S1), as it arrives: the window
            # reaches back far enough to catch a key split across two reads.
            window = self.data[-(len(chunk) + len(CANARY_KEY)) :].decode("utf-8", "replace")
            assert_no_canary(window, "a server's stderr")
            self.changed.set()
            self.changed = anyio.Event()

    async def wait_for(self, marker: str) -> str:
        with anyio.fail_after(START_TIMEOUT):
            while marker not in self.text or not self.text.split(marker, 1)[1].count("\n"):
                await self.changed.wait()
        return self.text.split(marker, 1)[1].splitlines()[0].strip()


def auth_headers(token: str = TEST_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def raw_http(url: str, request: bytes, *, half_close: bool = False) -> bytes:
    """Send bytes to the server at `url` on a fresh connection; all it answers until it closes.

    For requests an HTTP client library refuses to produce (lying lengths, huge or missing
    headers). `half_close` ends our side after sending, as a client that gave up would.
    """
    parts = httpx2.URL(url)
    assert parts.host and parts.port
    with anyio.fail_after(START_TIMEOUT):
        async with await anyio.connect_tcp(parts.host, parts.port) as stream:
            await stream.send(request)
            if half_close:
                await stream.send_eof()
            answer = bytearray()
            try:
                async for chunk in stream:
                    answer += chunk
            except (anyio.BrokenResourceError, ConnectionResetError):
                pass  # a server that closes with unread input resets the connection
            return bytes(answer)


def status_of(answer: bytes) -> int | None:
    """The status code of a raw HTTP answer, None when the server sent nothing."""
    if not answer:
        return None
    return int(answer.split(b" ", 2)[1])


@asynccontextmanager
async def mcp_http_client(
    url: str, token: str = TEST_TOKEN, mode: Literal["legacy", "auto"] = "auto"
) -> AsyncIterator[Client]:
    """The SDK client over streamable HTTP, sending the bearer token with every request."""
    timeout = httpx2.Timeout(30, read=300)
    http = httpx2.AsyncClient(headers=auth_headers(token), timeout=timeout)
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
        yield client


@asynccontextmanager
async def http_server(
    env: dict[str, str], workdir: Path, *args: str, token: str | None = TEST_TOKEN
) -> AsyncIterator[tuple[str, ServerLog]]:
    """Start `kimi-mcp --transport http --port 0`; yields the MCP URL it printed, and its log.

    The server gets KIMI_MCP_AUTH_TOKEN=`token` unless `env` sets one already; `token=None`
    leaves it unset, so the server generates one and prints it (see `ServerLog.wait_for`).
    """
    if token is not None:
        env = {"KIMI_MCP_AUTH_TOKEN": token, **env}
    command = [sys.executable, "-m", "kimi_mcp", "--transport", "http", "--port", "0", *args]
    log = ServerLog()
    process = await anyio.open_process(command, env=env, cwd=str(workdir))
    log.pid = process.pid
    async with process, anyio.create_task_group() as group:
        group.start_soon(log.drain, process)
        try:
            yield await log.wait_for("serving MCP at "), log
        finally:
            process.terminate()
            with anyio.fail_after(10):
                await process.wait()


@dataclass(frozen=True)
class Served:
    """A kimi-mcp HTTP child with its own emulator upstream."""

    url: str
    log: ServerLog
    emulator: Emulator

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")


@asynccontextmanager
async def serving(workdir: Path, *args: str, **extra_env: str) -> AsyncIterator[Served]:
    """An emulator and an HTTP server pointed at it (the module-scoped fixtures' building block)."""
    emulator = Emulator(api_key=CANARY_KEY)
    async with serve_emulator(emulator) as base_url:
        env = server_env(base_url, workdir, **extra_env)
        async with http_server(env, workdir, *args) as (url, log):
            yield Served(url, log, emulator)


async def assert_alive(url: str, token: str = TEST_TOKEN) -> None:
    """The liveness probe: a fresh SDK session lists the tools and list_models reaches Kimi."""
    with anyio.fail_after(START_TIMEOUT):
        async with mcp_http_client(url, token) as client:
            assert len((await client.list_tools()).tools) == len(TOOL_NAMES)
            models = await client.call_tool("list_models", {})
            assert not models.is_error, models.content


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module scope, so a module-scoped server can serve a whole module


@pytest.fixture(scope="module")
async def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Served]:
    """One kimi-mcp HTTP server for a whole test module (only modules that ask start one)."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    async with serving(tmp_path_factory.mktemp(module)) as served:
        yield served
