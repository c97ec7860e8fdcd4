"""The tool loop's progress steps over stdio: they quote what the model wrote (a query, a URL),
which may hold a lone surrogate escape that JSON-RPC over stdio cannot carry."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kimi_mcp.emulator import Emulator
from tests.e2e.conftest import server_env
from tests.e2e.raw_stdio import RawStdio, line, raw_stdio
from tests.server.test_kimi_tools_hostile import _call, _tool_turn

pytestmark = pytest.mark.anyio


@pytest.fixture
async def session(emulator_url: str, workdir: Path) -> AsyncIterator[RawStdio]:
    async with raw_stdio(server_env(emulator_url, workdir), workdir) as opened:
        yield opened
    assert opened.process.returncode == 0, opened.log.text[-3000:]


async def test_a_lone_surrogate_in_a_tool_step_does_not_stop_the_server(
    emulator: Emulator, session: RawStdio
) -> None:
    """`fetching <url>` quoted a lone surrogate the model wrote: the progress notification
    could not be written as JSON and the stdio server stopped, the call never answered."""
    arguments = '{"url": "https://example.org/\ud800"}'  # as Kimi's JSON decodes
    emulator.inject(_tool_turn(_call(0, "fetch:0", arguments)))
    await session.initialize()
    params = {
        "name": "ask_kimi",
        "arguments": {"prompt": "fetch https://example.org/a", "kimi_tools": ["fetch"]},
        "_meta": {"progressToken": "p1"},
    }
    await session.send(line({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": params}))
    answer = await session.wait_for(9)
    result = answer.get("result")
    assert isinstance(result, dict) and not result.get("isError"), answer
    assert result["structuredContent"]["tool_calls"][0]["status"] == "ok", answer
    await session.probe()
