"""Shared fixtures: a clean environment, the emulator on loopback, settings and an MCP client."""

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.emulator import Emulator, serve_emulator
from kimi_mcp.server import build_server

# A distinctive key: a sweep of logs and results proves it never leaks.
CANARY_KEY = "sk-canary-7f3a9c1e5b2d4f6a8c0e"
USER_AGENT = "kimi-mcp-tests/1"  # what tests that build a KimiClient themselves send
TOOL_NAMES = (
    "ask_kimi",
    "web_search",
    "list_models",
    "upload_file",
    "read_file",
    "list_files",
    "delete_file",
    "estimate_tokens",
    "check_balance",
    "list_conversations",
    "delete_conversation",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No developer key or config can leak in; HOME and the XDG dirs point at tmp_path."""
    for name in list(os.environ):
        if name.startswith(("MOONSHOT_", "KIMI_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    workdir = tmp_path / "work"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


SWEPT_BYTES = 16 * 1024 * 1024


def assert_no_canary(text: str, where: str) -> None:
    """The canary sweep (reliability 5.7 S1): the key, or its tail, appears nowhere we look."""
    for needle in (CANARY_KEY, CANARY_KEY[-16:]):
        assert needle not in text, f"the API key appeared in {where}"


def assert_no_canary_in_files(root: Path) -> None:
    """Files the server wrote (SQLite stores, WAL files, audit output) never hold the key."""
    for path in sorted(root.rglob("*"))[:1000]:
        # Tests' own big fixtures (sparse files of 100 MB and more) are not the server's writing.
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= SWEPT_BYTES:
            data = path.read_bytes()
            assert_no_canary(data.decode("latin-1"), str(path))


@pytest.fixture(autouse=True)
def key_never_logged(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> Iterator[None]:
    """Every test runs with DEBUG logs of every logger (httpx2, the SDK, kimi_mcp) swept."""
    caplog.set_level("DEBUG")
    yield
    assert_no_canary(caplog.text, "a log line")
    assert_no_canary_in_files(tmp_path)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emulator = Emulator(api_key=CANARY_KEY)
    yield emulator
    # The sweep behind "kimi-mcp never sends a request Kimi rejects": the emulator enforces every
    # rule of kimi-api.md, and no test of kimi-mcp may trip one (test_emulator.py, which sends
    # bad requests on purpose, uses its own emulator).
    refused = [r for r in emulator.rejections if r[1] in (400, 422)]
    assert refused == [], f"kimi-mcp sent requests Kimi rejects: {refused}"


@pytest.fixture
async def emulator_url(emulator: Emulator) -> AsyncIterator[str]:
    async with serve_emulator(emulator) as url:
        yield url


@pytest.fixture
def workdir(clean_env: Path) -> Path:
    return clean_env


@pytest.fixture
def settings(emulator_url: str, workdir: Path) -> Settings:
    return load_settings(
        api_key=CANARY_KEY, base_url=emulator_url, allowed_dirs=[workdir], max_retries=2
    )


class SweptClient(Client):
    """The SDK client, with every tool result swept for the key."""

    async def call_tool(self, *args: Any, **kwargs: Any) -> CallToolResult:
        result = await super().call_tool(*args, **kwargs)
        assert_no_canary(result.model_dump_json(), "a tool result")
        return result


@asynccontextmanager
async def served(settings: Settings, **changes: Any) -> AsyncIterator[Client]:
    """A fresh server on `settings` with `changes` (another replica, or a restart when called
    again on the same data dir or Redis), and a client to it."""
    changed = load_settings(
        api_key=CANARY_KEY,
        base_url=settings.base_url,
        allowed_dirs=settings.allowed_dirs,
        data_dir=settings.data_dir,
        **changes,
    )
    async with SweptClient(build_server(changed)) as client:
        yield client


@pytest.fixture
async def mcp_client(settings: Settings) -> AsyncIterator[Client]:
    async with SweptClient(build_server(settings)) as client:
        yield client


pytest_plugins = ["tests.redis_server"]
