"""A team deployment in real processes: kimi-mcp HTTP replicas sharing one store, behind
Debian's haproxy running deploy/haproxy.cfg unchanged (its addresses come from the environment).

The store is a setting of the harness: one SQLite data_dir shared by every replica (processes on
one machine share it safely), or Redis through `store_url` once that setting exists.
"""

import json
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.abc import Process

from tests.e2e.conftest import START_TIMEOUT, TEST_TOKEN, ServerLog, server_env

ROOT = Path(__file__).resolve().parents[2]
HAPROXY_CFG = ROOT / "deploy" / "haproxy.cfg"
REPLICAS = 3
ALICE = "alice-token-5d0c1e9f7a2b4c6d"
BOB = "bob-token-8e3f6a1c9d2b7e4f"
# Every replica gets the same secrets: owners, and the keys sealing 2026-era request state.
TOKENS = {TEST_TOKEN: "default", ALICE: "alice", BOB: "bob"}
STATE_KEYS = "team-test-state-key-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CHECK_INTERVAL = "200ms"  # haproxy's health checks, fast so a dead replica leaves quickly


@dataclass
class Replica:
    url: str
    log: ServerLog
    process: Process

    @property
    def base(self) -> str:
        return self.url.removesuffix("/mcp")

    async def kill(self) -> None:
        """kill -9, as a crash or the OOM killer would: no shutdown code runs."""
        os.kill(self.process.pid, signal.SIGKILL)
        with anyio.fail_after(10):
            await self.process.wait()


@dataclass
class Cluster:
    replicas: list[Replica]
    balancer: str  # the MCP URL clients use: haproxy's frontend
    haproxy_log: ServerLog = field(default_factory=ServerLog)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def store_env(store: str, workdir: Path, store_url: str | None, index: int) -> dict[str, str]:
    """What points a replica at the shared store: one data_dir, or a Redis URL (each replica
    then has a data_dir of its own, so nothing can be shared through SQLite by accident)."""
    if store == "sqlite":
        return {"KIMI_MCP_DATA_DIR": str(workdir / "shared-data")}
    assert store_url is not None
    return {"KIMI_MCP_STORE_URL": store_url, "KIMI_MCP_DATA_DIR": str(workdir / f"data-{index}")}


def replica_env(
    base_url: str, workdir: Path, store: dict[str, str], **extra: str
) -> dict[str, str]:
    return server_env(
        base_url,
        workdir,
        KIMI_MCP_AUTH_TOKENS=json.dumps(TOKENS),
        KIMI_MCP_REQUEST_STATE_KEYS=STATE_KEYS,
        KIMI_MCP_LOG_LEVEL="INFO",
        **store,
        **extra,
    )


async def wait_ready(base: str) -> None:
    """Until /readyz answers 200 (the replica's store answers)."""
    async with httpx2.AsyncClient(timeout=5) as http:
        with anyio.fail_after(START_TIMEOUT):
            while True:
                if (await http.get(f"{base}/readyz")).status_code == 200:
                    return
                await anyio.sleep(0.05)  # polling a probe, bounded by fail_after


@asynccontextmanager
async def replica(env: dict[str, str], workdir: Path) -> AsyncIterator[Replica]:
    command = [sys.executable, "-m", "kimi_mcp", "--transport", "http", "--port", "0"]
    log = ServerLog()
    process = await anyio.open_process(command, env=env, cwd=str(workdir))
    log.pid = process.pid
    async with process, anyio.create_task_group() as group:
        group.start_soon(log.drain, process)
        try:
            url = await log.wait_for("serving MCP at ")
            yield Replica(url, log, process)
        finally:
            if process.returncode is None:
                process.terminate()
            with anyio.fail_after(10):
                await process.wait()


@asynccontextmanager
async def haproxy(backends: list[str], workdir: Path) -> AsyncIterator[tuple[str, ServerLog]]:
    """Debian's haproxy in the foreground on deploy/haproxy.cfg; stopped by its pid."""
    binary = shutil.which("haproxy")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("haproxy is missing: .ci/run installs it")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "KIMI_MCP_LB_BIND": f"127.0.0.1:{port}",
        "KIMI_MCP_LB_CHECK": CHECK_INTERVAL,
        **{f"KIMI_MCP_REPLICA_{n + 1}": address for n, address in enumerate(backends)},
    }
    log = ServerLog()
    process = await anyio.open_process(
        [binary, "-f", str(HAPROXY_CFG), "-db"], env=env, cwd=workdir
    )
    log.pid = process.pid
    async with process, anyio.create_task_group() as group:
        group.start_soon(log.drain, process)
        try:
            await _wait_listening(port, process)
            yield f"http://127.0.0.1:{port}/mcp", log
        finally:
            process.terminate()
            with anyio.fail_after(10):
                await process.wait()


async def _wait_listening(port: int, process: Process) -> None:
    with anyio.fail_after(START_TIMEOUT):
        while True:
            assert process.returncode is None, "haproxy stopped at start-up"
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)  # polling a port, bounded by fail_after
                continue
            await stream.aclose()
            return


@asynccontextmanager
async def cluster(
    base_url: str, workdir: Path, store: str, store_url: str | None = None, **extra: str
) -> AsyncIterator[Cluster]:
    """REPLICAS replicas on one store (started one after the other, each ready before the next:
    fresh SQLite files created by several processes at once can fail to switch to WAL), then
    haproxy in front of them."""
    async with AsyncExitStack() as stack:
        replicas = []
        for index in range(REPLICAS):
            env = replica_env(
                base_url, workdir, store_env(store, workdir, store_url, index), **extra
            )
            started = await stack.enter_async_context(replica(env, workdir))
            await wait_ready(started.base)
            replicas.append(started)
        backends = [r.base.removeprefix("http://") for r in replicas]
        url, log = await stack.enter_async_context(haproxy(backends, workdir))
        yield Cluster(replicas, url, log)
