"""HTTP figures: check_balance calls/s against the bare HTTP server making the same upstream call
(1 / 8 / 32 SDK clients, each protocol era), and kimi-mcp's RSS growth from 5,000 to 20,000 calls.

Three processes: the emulator (so Kimi is not in either server's process), kimi-mcp over HTTP and
`bare_http_server.py`. The clients run here, the official SDK `Client` over streamable HTTP:
`mode="legacy"` for the 2025 session era, `mode="auto"` (2026-07-28) for the new one, as
tests/e2e/test_load.py drives them. Servers take turns within each round and the order flips
every round, so drift hits both alike; each figure is the median of the rounds. Beside calls/s the
detail keeps each server's CPU per call (/proc/PID/stat), the steadier sign of our own cost, and
the emulator's, which is the price of the upstream call itself.
"""

import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr

from kimi_mcp.kimi.client import KimiClient
from tests.benchmarks.speed.figures import Figure, median
from tests.conftest import CANARY_KEY
from tests.e2e.conftest import server_env
from tests.e2e.load_driver import ProcStats, child, emulator_command, http_command

BARE = Path(__file__).resolve().parents[1] / "bare_http_server.py"
Era = Literal["legacy", "auto"]
ERAS: dict[Era, str] = {"legacy": "2025 sessions", "auto": "2026-07-28"}
CLIENT_COUNTS = (1, 8, 32)
TARGET_RATIO = 0.95
RSS_TARGET_MIB = 1.0
MAX_TURN_CALLS = 100_000  # per client and turn: the count bound beside the time bound
SLACK = 60.0  # on top of a turn's window: only a hang trips it


@dataclass(frozen=True)
class Plan:
    rounds: int
    window: float  # seconds measured per server, era, client count and round
    rss_calls: tuple[int, int]  # RSS is read after this many calls, then after this many

    @classmethod
    def of(cls, quick: bool) -> "Plan":
        if quick:
            return cls(rounds=1, window=0.3, rss_calls=(100, 200))
        return cls(rounds=5, window=3.0, rss_calls=(5_000, 20_000))


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    token: str
    pid: int


@dataclass(frozen=True)
class Turn:
    calls: int
    seconds: float
    cpu_s: float  # the server's CPU in the window
    upstream_cpu_s: float  # the emulator's
    exit_error: str = ""  # closing the clients failed after the window (kept in the detail)

    @property
    def rate(self) -> float:
        return self.calls / self.seconds


async def measure(quick: bool) -> list[Figure]:
    plan = Plan.of(quick)
    with tempfile.TemporaryDirectory(prefix="kimi-speed-http-") as tmp:
        async with servers(Path(tmp)) as (kimi, bare, emulator):
            direct = await direct_call_cpu(emulator.url, 50 if quick else 1000)
            figures = await throughput(plan, kimi, bare, emulator.pid, direct)
            figures.append(await rss_growth(plan, kimi))
    return figures


async def direct_call_cpu(base_url: str, calls: int) -> float:
    """CPU ms of one upstream call as check_balance makes it (httpx2, kimi-mcp's client
    settings), made here directly: what calling Kimi at all costs a server per call."""
    client = KimiClient(api_key=SecretStr(CANARY_KEY), base_url=base_url, user_agent="bench")
    try:
        await client.balance(deadline=anyio.current_time() + SLACK)  # connect outside the count
        started = time.process_time()
        for _ in range(calls):
            await client.balance(deadline=anyio.current_time() + SLACK)
        return (time.process_time() - started) / calls * 1000
    finally:
        await client.aclose()


@asynccontextmanager
async def servers(workdir: Path) -> AsyncIterator[tuple[Server, Server, Server]]:
    """The emulator, kimi-mcp and the bare server, each its own process; stopped by pid on exit
    (`child` terminates and waits)."""
    token = secrets.token_urlsafe(32)
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)}
    async with AsyncExitStack() as stack:
        base_url, emulator, _ = await stack.enter_async_context(
            child(emulator_command(CANARY_KEY), base, workdir, "emulator at ")
        )
        env = server_env(base_url, workdir, KIMI_MCP_AUTH_TOKEN=token, KIMI_MCP_LOG_LEVEL="WARNING")
        url, kimi, _ = await stack.enter_async_context(
            child(http_command(), env, workdir, "serving MCP at ")
        )
        bare_env = base | {"MOONSHOT_BASE_URL": base_url, "MOONSHOT_API_KEY": CANARY_KEY}
        bare_url, bare, _ = await stack.enter_async_context(
            child([sys.executable, str(BARE)], bare_env, workdir, "bare at ")
        )
        yield (
            Server("kimi-mcp", url.strip(), token, kimi.pid),
            Server("bare", bare_url.strip(), token, bare.pid),  # it ignores the token
            Server("emulator", base_url, CANARY_KEY, emulator.pid),
        )


def _cpu(pid: int) -> float:
    return ProcStats.of(pid).cpu_s


@asynccontextmanager
async def sessions(server: Server, era: Era, count: int) -> AsyncIterator[list[Client]]:
    """`count` connected SDK clients (a legacy one has its session open already)."""
    headers = {"Authorization": f"Bearer {server.token}"}
    async with AsyncExitStack() as stack:
        clients = []
        for _ in range(count):
            http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))
            client = Client(streamable_http_client(server.url, http_client=http), mode=era)
            clients.append(await stack.enter_async_context(client))
        yield clients


async def drive(clients: list[Client], seconds: float) -> int:
    """Every client calls check_balance, one call at a time, for `seconds`; answered calls."""
    done = 0
    stop_at = time.monotonic() + seconds

    async def loop(client: Client) -> None:
        nonlocal done
        for _ in range(MAX_TURN_CALLS):
            if time.monotonic() >= stop_at:
                return
            result = await client.call_tool("check_balance", {})
            if result.is_error:
                raise RuntimeError(f"check_balance failed: {result.content}")
            done += 1

    with anyio.fail_after(seconds + SLACK):
        async with anyio.create_task_group() as group:
            for client in clients:
                group.start_soon(loop, client)
    return done


async def turn(server: Server, era: Era, count: int, window: float, upstream: int) -> Turn:
    measured: Turn | None = None
    try:
        async with sessions(server, era, count) as clients:
            await drive(clients, min(0.2, window))  # warm: first calls and pool connections
            cpu, up, started = _cpu(server.pid), _cpu(upstream), time.monotonic()
            calls = await drive(clients, window)
            seconds = time.monotonic() - started
            measured = Turn(calls, seconds, _cpu(server.pid) - cpu, _cpu(upstream) - up)
    except Exception as exc:
        if measured is None:  # a call failed: the figure would be wrong, so the run stops
            raise RuntimeError(f"{server.name}, {era}, {count} clients: {_leaves(exc)}") from exc
        # The window was measured; only closing a client failed (the SDK client's own exit).
        measured = replace(measured, exit_error=_leaves(exc))
    return measured


def _leaves(exc: BaseException) -> str:
    """The errors inside nested exception groups, one line each."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_leaves(inner) for inner in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"[:300]


async def throughput(
    plan: Plan, kimi: Server, bare: Server, upstream: int, direct_cpu_ms: float
) -> list[Figure]:
    turns: dict[tuple[str, Era, int], list[Turn]] = {}
    loads: list[float] = []
    for n in range(plan.rounds):
        loads.append(os.getloadavg()[0])
        for era in ERAS:
            for count in CLIENT_COUNTS:
                order = (kimi, bare) if (n + count) % 2 == 0 else (bare, kimi)
                for server in order:
                    result = await turn(server, era, count, plan.window, upstream)
                    turns.setdefault((server.name, era, count), []).append(result)
    load = statistics.median(loads)
    return [
        _figure(turns, era, count, load, direct_cpu_ms) for era in ERAS for count in CLIENT_COUNTS
    ]


def _figure(
    turns: dict[tuple[str, Era, int], list[Turn]],
    era: Era,
    count: int,
    load: float,
    direct_cpu_ms: float,
) -> Figure:
    mine, floor = turns[("kimi-mcp", era, count)], turns[("bare", era, count)]
    value, floor_value = median([t.rate for t in mine]), median([t.rate for t in floor])
    return Figure(
        name=f"HTTP check_balance calls/s, {count} client{'s' if count > 1 else ''}, {ERAS[era]}",
        value=value,
        unit="calls/s",
        target=f">= {TARGET_RATIO}x bare (same upstream call)",
        met=value >= TARGET_RATIO * floor_value,
        floor=floor_value,
        floor_name="bare MCPServer over HTTP, tool makes the same GET /users/me/balance",
        load=load,
        detail={
            "rounds": len(mine),
            "samples": [round(t.rate, 1) for t in mine],
            "floor_samples": [round(t.rate, 1) for t in floor],
            # Each round's ratio of two turns run back to back: drift between rounds (other
            # work on the machine) moves both alike, so these spread less than the samples.
            "round_ratios": [round(m.rate / f.rate, 3) for m, f in zip(mine, floor, strict=True)],
            "server_cpu_ms_per_call": _per_call(mine),
            "floor_cpu_ms_per_call": _per_call(floor),
            # The emulator's CPU per call: what answering the upstream call costs Kimi's side.
            "upstream_cpu_ms_per_call": _per_call(mine + floor, upstream=True),
            # The same GET made directly with httpx2 in this process: the client side's price.
            "direct_call_cpu_ms": round(direct_cpu_ms, 3),
            "client_exit_errors": [t.exit_error for t in mine + floor if t.exit_error],
        },
    )


def _per_call(turns: list[Turn], *, upstream: bool = False) -> float:
    cpu = [(t.upstream_cpu_s if upstream else t.cpu_s, t.calls) for t in turns]
    samples = [seconds / calls * 1000 for seconds, calls in cpu if calls]
    return round(median(samples), 3) if samples else 0.0


def _rss_mib(pid: int) -> float:
    return ProcStats.of(pid).rss_kib / 1024


async def rss_growth(plan: Plan, kimi: Server) -> Figure:
    """8 clients (half in each era, sessions kept) call check_balance; RSS after the first
    count of calls and after the second."""
    first, last = plan.rss_calls
    readings: dict[int, float] = {}
    async with sessions(kimi, "legacy", 4) as legacy, sessions(kimi, "auto", 4) as modern:
        clients = legacy + modern
        done = 0
        for mark in (first, last):
            with anyio.fail_after(SLACK + mark / 50):
                while done < mark:
                    per_client = max(1, (mark - done) // len(clients))
                    done += await _calls(clients, per_client)
            readings[done] = _rss_mib(kimi.pid)
    (at_first, rss_first), (at_last, rss_last) = sorted(readings.items())
    growth = rss_last - rss_first
    return Figure(
        name=f"kimi-mcp RSS growth over HTTP from {first:,} to {last:,} calls",
        value=growth,
        unit="MiB",
        target=f"<= {RSS_TARGET_MIB:g} MiB",
        met=growth <= RSS_TARGET_MIB,
        detail={
            "rss_mib": {at_first: round(rss_first, 2), at_last: round(rss_last, 2)},
            "per_1000_calls_mib": round(growth / max(1, at_last - at_first) * 1000, 3),
        },
    )


async def _calls(clients: list[Client], each: int) -> int:
    async def loop(client: Client) -> None:
        for _ in range(each):
            result = await client.call_tool("check_balance", {})
            if result.is_error:
                raise RuntimeError(f"check_balance failed: {result.content}")

    async with anyio.create_task_group() as group:
        for client in clients:
            group.start_soon(loop, client)
    return each * len(clients)
