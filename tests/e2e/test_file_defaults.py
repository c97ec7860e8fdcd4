"""Safe file defaults in real processes: a server a host starts in / reads no local file, says
so at start-up, and tells the caller how to allow a directory (stdio and HTTP)."""

from pathlib import Path

import anyio
import pytest
from mcp import Client

from kimi_mcp.emulator import Emulator
from tests.e2e.conftest import START_TIMEOUT, http_server, mcp_http_client, server_env, stdio_params
from tests.tool_results import error_text

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

ROOT = Path("/")


def started_in_root(emulator_url: str, workdir: Path) -> dict[str, str]:
    env = server_env(emulator_url, workdir, KIMI_MCP_LOG_LEVEL="INFO")
    del env["KIMI_MCP_ALLOWED_DIRS"]  # the default: the working directory
    return env


async def test_a_stdio_server_started_in_root_sends_no_local_file(
    emulator: Emulator, emulator_url: str, workdir: Path
) -> None:
    params = stdio_params(started_in_root(emulator_url, workdir), ROOT)
    with anyio.fail_after(START_TIMEOUT * 2):
        async with Client(params) as client:  # declares no roots
            result = await client.call_tool("upload_file", {"path": "/etc/passwd"})
    message = error_text(result)
    assert "no directory is allowed" in message and "--allow-dir" in message, message
    assert emulator.files == {} and emulator.requests == []


async def test_an_http_server_started_in_root_warns_at_start_up(
    emulator: Emulator, emulator_url: str, workdir: Path
) -> None:
    env = started_in_root(emulator_url, workdir)
    with anyio.fail_after(START_TIMEOUT * 2):
        async with http_server(env, ROOT) as (url, log), mcp_http_client(url) as client:
            result = await client.call_tool("upload_file", {"path": "/etc/passwd"})
            assert "KIMI_MCP_ALLOWED_DIRS" in error_text(result)
    warning = next(line for line in log.text.splitlines() if "No directory is allowed" in line)
    assert "WARNING" in warning and "started in /, the root of the filesystem" in warning
    assert emulator.files == {}


async def test_start_up_logs_the_allowed_directories_at_info(
    emulator_url: str, workdir: Path
) -> None:
    env = server_env(emulator_url, workdir, KIMI_MCP_LOG_LEVEL="INFO")
    with anyio.fail_after(START_TIMEOUT * 2):
        async with http_server(env, workdir) as (_, log):
            await log.wait_for("Local files may be read from: ")
    line = next(line for line in log.text.splitlines() if "Local files may be read from" in line)
    assert "INFO" in line and str(workdir) in line
