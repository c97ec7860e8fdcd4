"""What the stdio figures share: kimi-mcp and the bare echo server as stdio children of the
official client, an emulator in this process, direct httpx2 calls replaying what kimi-mcp sent,
interleaved timing and /proc readings of a child's memory."""

import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client import stdio

from kimi_mcp.emulator import Emulator, RecordedRequest, serve_emulator

BENCHMARKS = Path(__file__).resolve().parent.parent
Call = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Upstream:
    """An emulator served in this process (same clock as the client) and a direct client."""

    emulator: Emulator
    base_url: str
    http: httpx2.AsyncClient
    workdir: Path

    @property
    def files(self) -> Path:
        """The one directory kimi-mcp may read (not its home: it warns about that)."""
        return self.workdir / "files"

    async def replay(self, request: RecordedRequest) -> None:
        """Send what kimi-mcp sent, byte for byte, reading a stream to its end: the floor."""
        headers = {"content-type": request.headers.get("content-type", "application/json")}
        url = self.base_url.removesuffix("/v1") + request.path
        async with self.http.stream(
            request.method, url, content=request.body, headers=headers
        ) as response:
            async for _ in response.aiter_raw():
                pass
            response.raise_for_status()


@asynccontextmanager
async def upstream(emulator: Emulator | None = None) -> AsyncIterator[Upstream]:
    """The emulator on loopback, a direct httpx2 client to it and a temp dir, all cleaned up."""
    emulator = emulator or Emulator()
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    timeout = httpx2.Timeout(120)
    with tempfile.TemporaryDirectory(prefix="kimi-bench-") as tmp:
        async with (
            serve_emulator(emulator) as base_url,
            httpx2.AsyncClient(base_url=base_url, headers=headers, timeout=timeout) as http,
        ):
            up = Upstream(emulator, base_url, http, Path(tmp))
            up.files.mkdir()
            yield up


def kimi_params(up: Upstream) -> StdioServerParameters:
    """kimi-mcp over stdio, pointed at the emulator, its data in the temp dir."""
    workdir = up.workdir
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir / "home"),
        "XDG_CONFIG_HOME": str(workdir / "c"),
        "MOONSHOT_API_KEY": up.emulator.api_key,
        "MOONSHOT_BASE_URL": up.base_url,
        "KIMI_MCP_ALLOWED_DIRS": str(up.files),
        "KIMI_MCP_DATA_DIR": str(workdir / "d"),
        "KIMI_MCP_LOG_LEVEL": "WARNING",  # the audit line of each call is not the figure
    }
    return StdioServerParameters(
        command=sys.executable, args=["-m", "kimi_mcp"], env=env, cwd=str(workdir)
    )


def bare_params() -> StdioServerParameters:
    """The floor: a bare MCPServer with one echo tool (bare_server.py)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    script = str(BENCHMARKS / "bare_server.py")
    return StdioServerParameters(command=sys.executable, args=[script], env=env)


@asynccontextmanager
async def stdio_client(params: StdioServerParameters) -> AsyncIterator[tuple[Client, int]]:
    """The official client over stdio, and the child's pid (found as our new child)."""
    before = set(children())
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:  # not the table's stderr
        try:
            async with Client(stdio.stdio_client(params, errlog=errlog)) as client:
                [pid] = [pid for pid in children() if pid not in before]
                yield client, pid  # leaving closes stdin, then stops the child
        except BaseException:
            errlog.seek(0)
            sys.stderr.write(errlog.read()[-4000:])  # why the child failed, when it did
            raise


def children() -> list[int]:
    """This process's children, from every thread's /proc entry."""
    pids: list[int] = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    found: dict[str, int] = {}
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = row.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


async def timed(call: Call) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def interleaved(
    variants: dict[str, Call], rounds: int, warm_up: int
) -> dict[str, list[float]]:
    """Milliseconds per call of each variant, taking turns call by call so that drift and
    other work on the machine hit every variant alike; the warm-up calls are not kept."""
    for call in variants.values():
        for _ in range(warm_up):
            await call()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, call in variants.items():
            samples[name].append(await timed(call))
    return samples


def last_request(emulator: Emulator, path_end: str) -> RecordedRequest:
    return [r for r in emulator.requests if r.path.endswith(path_end)][-1]


def structured(result: Any) -> dict[str, Any]:
    """A tool result's structured content; a tool error stops the benchmark with its text."""
    if result.is_error or result.structured_content is None:
        raise RuntimeError(f"tool failed: {result.content}")
    return dict(result.structured_content)
