"""kimi-mcp serving streamable HTTP as a real child process, driven by the SDK client."""

import subprocess
import sys
from pathlib import Path
from typing import Literal

import anyio
import httpx2
import pytest

from kimi_mcp.emulator import Emulator
from tests.conftest import CANARY_KEY, TOOL_NAMES
from tests.e2e.conftest import (
    RAW_INITIALIZE,
    START_TIMEOUT,
    TEST_TOKEN,
    auth_headers,
    http_server,
    mcp_http_client,
    server_env,
)

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_tools_work_over_http_in_both_protocol_eras(
    emulator_url: str, emulator: Emulator, workdir: Path, mode: Literal["legacy", "auto"]
) -> None:
    emulator.stream_delay = 0.15  # long enough for progress notifications to flow
    seen: list[str | None] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message)

    async with http_server(server_env(emulator_url, workdir), workdir) as (url, log):
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        with anyio.fail_after(START_TIMEOUT * 2):
            async with mcp_http_client(url, mode=mode) as client:
                assert len((await client.list_tools()).tools) == len(TOOL_NAMES)
                result = await client.call_tool(
                    "ask_kimi", {"prompt": "http nonce-5150 " * 3}, progress_callback=on_progress
                )
                assert not result.is_error and result.structured_content is not None
                assert "nonce-5150" in result.structured_content["answer"]
                models = await client.call_tool("list_models", {})
                assert models.structured_content is not None
    assert seen, "no progress notification reached the client over HTTP"
    assert CANARY_KEY not in log.text
    assert TEST_TOKEN not in log.text


async def test_health_host_and_origin_checks(emulator_url: str, workdir: Path) -> None:
    async with http_server(server_env(emulator_url, workdir), workdir) as (url, _):
        base = url.removesuffix("/mcp")
        init = RAW_INITIALIZE
        headers = {"Accept": "application/json, text/event-stream", **auth_headers()}
        async with httpx2.AsyncClient(timeout=10) as http:
            health = await http.get(f"{base}/healthz")
            assert health.status_code == 200 and health.json() == {"status": "ok"}
            wrong_host = await http.post(
                url, json=init, headers={**headers, "Host": "evil.example"}
            )
            assert wrong_host.status_code == 421
            wrong_origin = await http.post(
                url, json=init, headers={**headers, "Origin": "http://evil.example"}
            )
            assert wrong_origin.status_code == 403
            good = await http.post(url, json=init, headers={**headers, "Origin": base})
            assert good.status_code == 200


def test_binding_a_non_loopback_address_without_a_token_is_refused(workdir: Path) -> None:
    command = ["--transport", "http", "--host", "0.0.0.0"]
    done = subprocess.run(
        [sys.executable, "-m", "kimi_mcp", *command],
        env=server_env(None, workdir),
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )
    assert done.returncode == 2 and "KIMI_MCP_AUTH_TOKEN" in done.stderr
