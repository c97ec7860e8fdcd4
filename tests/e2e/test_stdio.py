"""kimi-mcp as a real child process over stdio, driven by the official SDK client."""

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

import anyio
import httpx2
import pytest
from mcp import Client

from kimi_mcp.emulator import Emulator
from tests.conftest import CANARY_KEY, TOOL_NAMES
from tests.e2e.conftest import RAW_INITIALIZE, START_TIMEOUT, ServerLog, server_env, stdio_params
from tests.e2e.raw_stdio import raw_stdio

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_tools_work_over_stdio_in_both_protocol_eras(
    emulator_url: str, emulator: Emulator, workdir: Path, mode: Literal["legacy", "auto"]
) -> None:
    params = stdio_params(server_env(emulator_url, workdir), workdir)
    with anyio.fail_after(START_TIMEOUT * 2):
        async with Client(params, mode=mode) as client:
            expected = "2025-11-25" if mode == "legacy" else "2026-07-28"
            assert client.protocol_version == expected
            assert len((await client.list_tools()).tools) == len(TOOL_NAMES)
            answer = await client.call_tool("ask_kimi", {"prompt": "stdio nonce-31337"})
            assert not answer.is_error and answer.structured_content is not None
            assert "nonce-31337" in answer.structured_content["answer"]
            balance = await client.call_tool("check_balance", {})
            assert balance.structured_content is not None
            assert balance.structured_content["currency"] == "USD"
    assert emulator.requests[-1].headers["authorization"] == f"Bearer {CANARY_KEY}"


async def test_every_stdout_line_is_json_rpc_and_logs_go_to_stderr(
    emulator_url: str, workdir: Path
) -> None:
    """Raw pipes, no SDK client: what the host reads on stdout must be protocol only."""
    requests = [
        RAW_INITIALIZE,
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "ask_kimi", "arguments": {"prompt": "hello"}},
        },
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tools/call",
            "params": {"name": "upload_file", "arguments": {"path": "/etc/passwd"}},
        },
    ]
    command = [sys.executable, "-m", "kimi_mcp"]
    env = server_env(emulator_url, workdir)
    stdout = bytearray()
    log = ServerLog()
    with anyio.fail_after(START_TIMEOUT * 2):
        async with await anyio.open_process(command, env=env, cwd=str(workdir)) as process:
            assert process.stdin is not None and process.stdout is not None
            async with anyio.create_task_group() as group:
                group.start_soon(log.drain, process)
                for request in requests:
                    await process.stdin.send((json.dumps(request) + "\n").encode())
                async for chunk in process.stdout:
                    stdout += chunk
                    if stdout.endswith(b"\n") and _answered(bytes(stdout)) >= {1, 2, 3, 4}:
                        break
                await process.stdin.aclose()
                await process.wait()
    stderr = log.text
    lines = stdout.decode().splitlines()
    assert len(lines) >= 4
    for line in lines:
        assert json.loads(line)["jsonrpc"] == "2.0"
    assert "DEBUG" in stderr or "INFO" in stderr  # the logs went somewhere, and not stdout
    assert CANARY_KEY not in stderr and CANARY_KEY not in stdout.decode()


def _answered(stdout: bytes) -> set[int]:
    ids = set()
    for line in stdout.decode().splitlines():
        message = json.loads(line)
        if isinstance(message.get("id"), int):
            ids.add(message["id"])
    return ids


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kimi_mcp", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_a_bad_setting_stops_start_up_with_one_line_and_exit_2(workdir: Path) -> None:
    env = server_env(None, workdir, KIMI_MCP_TIMEOUT="-1")
    done = run_cli(env=env, cwd=workdir)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "timeout" in done.stderr
    missing = run_cli("--config", str(workdir / "nope.toml"), env=env, cwd=workdir)
    assert missing.returncode == 2 and "config file not found" in missing.stderr


def test_help_documents_the_commands_and_flags(workdir: Path) -> None:
    done = run_cli("--help", env=server_env(None, workdir), cwd=workdir)
    assert done.returncode == 0
    for word in ("demo", "emulator", "--transport", "--config", "--allow-dir", "MOONSHOT_API_KEY"):
        assert word in done.stdout


async def test_without_a_key_the_server_starts_and_explains(workdir: Path) -> None:
    params = stdio_params(server_env(None, workdir), workdir)
    with anyio.fail_after(START_TIMEOUT * 2):
        async with Client(params) as client:
            assert len((await client.list_tools()).tools) == len(TOOL_NAMES)
            result = await client.call_tool("list_models", {})
    assert result.is_error
    assert any("MOONSHOT_API_KEY" in getattr(block, "text", "") for block in result.content)


def test_the_demo_shows_every_tool_working(workdir: Path) -> None:
    env = {"PATH": server_env(None, workdir)["PATH"], "HOME": str(workdir)}
    done = subprocess.run(
        [sys.executable, "-m", "kimi_mcp", "demo"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for tool in TOOL_NAMES:
        assert f">>> {tool}(" in done.stdout
    assert "refused, as it should be" in done.stdout
    assert "kimi_mcp.audit: uploaded" in done.stderr and "sha256" in done.stderr
    # A new user's first run warns of nothing (it once warned that its folder was a home).
    assert " WARNING " not in done.stderr, done.stderr


async def test_a_conversation_continues_after_the_server_process_restarts(
    emulator_url: str, emulator: Emulator, workdir: Path
) -> None:
    params = stdio_params(server_env(emulator_url, workdir), workdir)
    prompts = ["first: the code word is heron", "second: spell it", "third: reverse it"]
    conversation: str | None = None
    with anyio.fail_after(START_TIMEOUT * 3):
        async with Client(params) as client:
            for prompt in prompts:
                args = {
                    "prompt": prompt,
                    **({"conversation_id": conversation} if conversation else {}),
                }
                result = await client.call_tool("ask_kimi", args)
                assert result.structured_content is not None, result.content
                conversation = result.structured_content["conversation_id"]
        assert user_turns_sent(emulator) == prompts
        async with Client(params) as client:  # a new process, same data directory
            result = await client.call_tool(
                "ask_kimi", {"prompt": "fourth: after restart", "conversation_id": conversation}
            )
    assert not result.is_error
    assert user_turns_sent(emulator) == [*prompts, "fourth: after restart"]


def user_turns_sent(emulator: Emulator) -> list[str]:
    body = emulator.requests[-1].json
    assert isinstance(body, dict)
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_client_cancellation_closes_the_upstream_stream_within_a_second(
    emulator_url: str, emulator: Emulator, workdir: Path, mode: Literal["legacy", "auto"]
) -> None:
    emulator.stream_delay = 0.4
    params = stdio_params(server_env(emulator_url, workdir), workdir)
    answering = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        answering.set()

    with anyio.fail_after(START_TIMEOUT * 2):
        async with Client(params, mode=mode) as client:
            async with anyio.create_task_group() as group:

                async def ask() -> None:
                    await client.call_tool(
                        "ask_kimi",
                        {"prompt": "a long answer please " * 20},
                        progress_callback=on_progress,
                    )

                group.start_soon(ask)
                await answering.wait()  # the upstream stream is flowing
                cancelled_at = time.monotonic()
                group.cancel_scope.cancel()
            [disconnect] = await emulator.wait_disconnects(1)
    assert disconnect.time - cancelled_at < 1.0


async def test_the_emulator_command_prints_the_port_it_bound(workdir: Path) -> None:
    """`kimi-mcp emulator --port 0` names the real port, and the URL it prints answers."""
    command = [sys.executable, "-m", "kimi_mcp", "emulator", "--port", "0"]
    log = ServerLog()
    with anyio.fail_after(START_TIMEOUT):
        async with (
            await anyio.open_process(command, cwd=str(workdir)) as process,
            anyio.create_task_group() as group,
        ):
            group.start_soon(log.drain, process)
            url = (await log.wait_for("MOONSHOT_BASE_URL=")).split()[0]
            key = log.text.split("MOONSHOT_API_KEY=", 1)[1].split()[0]
            async with httpx2.AsyncClient() as http:
                models = await http.get(f"{url}/models", headers={"authorization": f"Bearer {key}"})
            process.terminate()
            group.cancel_scope.cancel()
    assert ":0/" not in url and models.status_code == 200
    assert models.json()["data"]


async def test_a_dropped_unparsable_message_is_logged_at_the_default_level(
    emulator_url: str, workdir: Path
) -> None:
    """The SDK answers nothing to a line that is not JSON-RPC; at WARNING, stderr says so."""
    env = server_env(emulator_url, workdir, KIMI_MCP_LOG_LEVEL="WARNING")
    async with raw_stdio(env, workdir) as session:
        await session.initialize()
        await session.send(b"hello, this is not JSON-RPC\n")
        await session.probe()  # answered after the dropped line: the order of stderr is settled
    assert "dropped an input message that is not valid JSON-RPC" in session.log.text
    assert "DEBUG" not in session.log.text
