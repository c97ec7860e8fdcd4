"""Shared fixtures: a clean environment, the emulator on loopback, settings and an MCP client."""

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from mcp import Client

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.emulator import Emulator, serve_emulator
from kimi_mcp.server import build_server

# A distinctive key: a sweep of logs and results proves it never leaks.
CANARY_KEY = "sk-canary-7f3a9c1e5b2d4f6a8c0e"
TOOL_NAMES = (
    "ask_kimi",
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


@pytest.fixture(autouse=True)
def key_never_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level("DEBUG")
    yield
    assert CANARY_KEY not in caplog.text, "the API key appeared in a log line"


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


@pytest.fixture
async def mcp_client(settings: Settings) -> AsyncIterator[Client]:
    async with Client(build_server(settings)) as client:
        yield client
