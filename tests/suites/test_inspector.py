"""The MCP Inspector CLI (@modelcontextprotocol/inspector, pinned in .ci/suites-install.sh) lists
kimi-mcp's tools and calls check_balance against the emulator, over stdio and over HTTP."""

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from kimi_mcp.emulator import Emulator, serve_emulator
from tests.conftest import CANARY_KEY, TOOL_NAMES
from tests.e2e.conftest import TEST_TOKEN, serving
from tests.suites.conftest import INSPECTOR_CLI, SUITE_TIMEOUT

pytestmark = [pytest.mark.anyio, pytest.mark.suites, pytest.mark.subprocess]

LIST_TOOLS = ("--method", "tools/list", "--strict")  # --strict: schema portability errors fail
CHECK_BALANCE = ("--method", "tools/call", "--tool-name", "check_balance")


async def _inspect(node: str, target: list[str], *args: str, ok: bool = True) -> Any:
    """One Inspector CLI run: the JSON result on stdout, or the JSON error on stderr."""
    command = [node, str(INSPECTOR_CLI), "--cli", *target, *args]
    with anyio.fail_after(SUITE_TIMEOUT):
        done = await anyio.run_process(command, check=False, env={**os.environ, "NO_COLOR": "1"})
    output, errors = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    assert (done.returncode == 0) is ok, output + errors
    assert CANARY_KEY not in output + errors
    return json.loads(output if ok else errors)


def _assert_listed_and_balance(tools: Any, balance: Any) -> None:
    assert [tool["name"] for tool in tools["tools"]] == list(TOOL_NAMES)
    assert not balance.get("isError"), balance
    assert balance["structuredContent"]["currency"] == "USD"


async def test_inspector_lists_tools_and_checks_the_balance_over_stdio(
    node: str, workdir: Path
) -> None:
    async with serve_emulator(Emulator(api_key=CANARY_KEY)) as base_url:
        env = ["-e", f"MOONSHOT_API_KEY={CANARY_KEY}", "-e", f"MOONSHOT_BASE_URL={base_url}"]
        env += ["-e", f"XDG_DATA_HOME={workdir / '.data'}"]
        target = [*env, "--cwd", str(workdir), sys.executable, "-m", "kimi_mcp"]
        tools = await _inspect(node, target, *LIST_TOOLS)
        balance = await _inspect(node, target, *CHECK_BALANCE)
    _assert_listed_and_balance(tools, balance)


async def test_inspector_lists_tools_and_checks_the_balance_over_http(
    node: str, workdir: Path
) -> None:
    async with serving(workdir) as served:
        target = [served.url, "--transport", "http"]
        target += ["--header", f"Authorization: Bearer {TEST_TOKEN}"]
        tools = await _inspect(node, target, *LIST_TOOLS)
        balance = await _inspect(node, target, *CHECK_BALANCE)
    _assert_listed_and_balance(tools, balance)


async def test_inspector_without_the_token_shows_which_header_to_send(
    node: str, workdir: Path
) -> None:
    """The Inspector turns any 401 into an OAuth login (a TTY prompt); told not to, it shows
    the 401 body, which names the header kimi-mcp wants."""
    async with serving(workdir) as served:
        target = [served.url, "--transport", "http", "--stored-auth-only"]
        error = await _inspect(node, target, "--method", "tools/list", ok=False)
    assert "Authorization: Bearer <KIMI_MCP_AUTH_TOKEN>" in error["error"]["message"]
