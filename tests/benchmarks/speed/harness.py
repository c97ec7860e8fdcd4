"""What the stdio figures share: kimi-mcp and the bare echo server as stdio children of the
official client, the emulator (its own process, or this one), direct httpx2 calls replaying what
kimi-mcp sent, interleaved timing, and /proc readings of a child's memory and CPU."""

import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client import stdio

from kimi_mcp.emulator import Emulator, serve_emulator

BENCHMARKS = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30  # seconds for a child to start, or to stop, on a busy 2-core machine
Call = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Sent:
    """One request kimi-mcp sent upstream, as the emulator recorded it."""

    method: str
    path: str  # from the root: /v1/...
    body: bytes
    content_type: str

    value: Any = field(init=False)  # the body's JSON value (None if not JSON), decoded once

    def __post_init__(self) -> None:  # here, not in the timed floor: kimi-mcp never decodes it
        is_json = "json" in (self.content_type or "application/json") and self.body
        object.__setattr__(self, "value", json.loads(self.body) if is_json else None)


@dataclass(frozen=True)
class Upstream:
    """The emulator on loopback, a direct httpx2 client to it and a temp dir.

    `emulator` is set when it runs in this process (its clock is ours: the progress figures);
    otherwise it is a process of its own, so that kimi-mcp's calls and the direct ones alike
    cross a process boundary to reach it, as they would to reach Kimi."""

    base_url: str
    api_key: str
    http: httpx2.AsyncClient
    workdir: Path
    emulator: Emulator | None = None

    @property
    def files(self) -> Path:
        """The one directory kimi-mcp may read (not its home: it warns about that)."""
        return self.workdir / "files"

    @property
    def _admin(self) -> str:
        return self.base_url.removesuffix("/v1") + "/_emulator"

    async def reset(self) -> None:
        """Forget recorded requests: the emulator keeps every one, bodies included."""
        if self.emulator is not None:
            self.emulator.reset()
        else:
            (await self.http.post(f"{self._admin}/reset")).raise_for_status()

    async def sent(self) -> list[Sent]:
        """The requests received since the last reset, in order."""
        if self.emulator is not None:
            return [
                Sent(r.method, r.path, r.body, r.headers.get("content-type", ""))
                for r in self.emulator.requests
            ]
        answer = await self.http.get(f"{self._admin}/requests")
        answer.raise_for_status()
        return [
            Sent(r["method"], r["path"], r["body"].encode(), r["headers"].get("content-type", ""))
            for r in answer.json()
        ]

    async def replay(self, request: Sent) -> None:
        """The floor: the call kimi-mcp made, made as any client of Kimi makes it. A JSON body
        is encoded from its value and each event of a stream decoded, since a bare tool making
        the call pays both too; other bodies (multipart) are sent byte for byte."""
        headers = {"content-type": request.content_type or "application/json"}
        url = self.base_url.removesuffix("/v1") + request.path
        body = {"content": request.body} if request.value is None else {"json": request.value}
        async with self.http.stream(request.method, url, headers=headers, **body) as response:
            response.raise_for_status()
            if "text/event-stream" not in response.headers.get("content-type", ""):
                await response.aread()
                return
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    json.loads(line.removeprefix("data: "))


@asynccontextmanager
async def upstream(emulator: Emulator | None = None) -> AsyncIterator[Upstream]:
    """The emulator in this process when given one, else `kimi-mcp emulator` as a child; a
    direct client and a temp dir; all stopped and removed after."""
    with tempfile.TemporaryDirectory(prefix="kimi-bench-") as tmp:
        async with _served(emulator) as (base_url, key):
            headers = {"Authorization": f"Bearer {key}"}
            timeout = httpx2.Timeout(120)
            async with httpx2.AsyncClient(
                base_url=base_url, headers=headers, timeout=timeout
            ) as http:
                up = Upstream(base_url, key, http, Path(tmp), emulator)
                up.files.mkdir()
                yield up


@asynccontextmanager
async def _served(emulator: Emulator | None) -> AsyncIterator[tuple[str, str]]:
    if emulator is not None:
        async with serve_emulator(emulator) as base_url:
            yield base_url, emulator.api_key
        return
    command = [sys.executable, "-m", "kimi_mcp", "emulator", "--port", "0"]
    process = await anyio.open_process(command)
    try:
        assert process.stderr is not None
        seen = ""
        with anyio.fail_after(START_TIMEOUT):
            while "MOONSHOT_API_KEY=" not in seen or not seen.endswith("\n"):
                seen += (await process.stderr.receive()).decode()
        base_url = seen.split("MOONSHOT_BASE_URL=", 1)[1].split()[0]
        yield base_url, seen.split("MOONSHOT_API_KEY=", 1)[1].split()[0]
    finally:
        process.terminate()  # by its pid: the child we started
        with anyio.fail_after(START_TIMEOUT):
            await process.wait()
        await process.aclose()


def kimi_params(up: Upstream) -> StdioServerParameters:
    """kimi-mcp over stdio, pointed at the emulator, its data in the temp dir."""
    workdir = up.workdir
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir / "home"),
        "XDG_CONFIG_HOME": str(workdir / "c"),
        "MOONSHOT_API_KEY": up.api_key,
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


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used, in ms (10 ms ticks: sum many calls)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Variant:
    """One thing to time. `before` and `after` run untimed around each call (resetting the
    emulator's records, capturing the body kimi-mcp sent); `cpu_of` is a process whose CPU
    time during the call is counted too: its own cost, which other work moves less than wall
    time (10 ms ticks: a mean over many calls)."""

    call: Call
    before: Call | None = None
    after: Call | None = None
    cpu_of: int | None = None


@dataclass
class Samples:
    ms: dict[str, list[float]]  # wall time of each call
    cpu_ms: dict[str, float]  # mean CPU per call of the variant's `cpu_of`, measured calls only

    def medians(self) -> dict[str, float]:
        return {name: statistics.median(values) for name, values in self.ms.items()}


async def interleaved(variants: dict[str, Variant], rounds: int, warm_up: int) -> Samples:
    """Each variant `rounds` times, taking turns call by call so that drift and other work on
    the machine hit every variant alike; the warm-up calls are not kept."""
    for variant in variants.values():
        for _ in range(warm_up):
            await _once(variant)
    ms: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name, v in variants.items() if v.cpu_of}
    for _ in range(rounds):
        for name, variant in variants.items():
            wall, spent = await _once(variant)
            ms[name].append(wall)
            if spent is not None:
                cpu[name].append(spent)
    return Samples(ms, {name: statistics.fmean(values) for name, values in cpu.items()})


async def _once(variant: Variant) -> tuple[float, float | None]:
    if variant.before is not None:
        await variant.before()
    cpu_before = cpu_ms(variant.cpu_of) if variant.cpu_of else 0.0
    started = time.perf_counter()
    await variant.call()
    wall = (time.perf_counter() - started) * 1000
    spent = cpu_ms(variant.cpu_of) - cpu_before if variant.cpu_of else None
    if variant.after is not None:
        await variant.after()
    return wall, spent


async def last_request(up: Upstream, path_end: str) -> Sent:
    return [r for r in await up.sent() if r.path.endswith(path_end)][-1]


def structured(result: Any) -> dict[str, Any]:
    """A tool result's structured content; a tool error stops the benchmark with its text."""
    if result.is_error or result.structured_content is None:
        raise RuntimeError(f"tool failed: {result.content}")
    return dict(result.structured_content)
