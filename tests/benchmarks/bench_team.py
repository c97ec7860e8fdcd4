"""What a team deployment costs: 32 MCP clients over HTTP against A) one replica on SQLite,
B) one replica on Redis, C) three replicas on Redis behind haproxy (deploy/haproxy.cfg), in one run.

Run on purpose (not part of the test suite; needs Debian's redis-server and haproxy):

    .venv/bin/python tests/benchmarks/bench_team.py [--seconds 15] [--rounds 5] [--warmup 1.5]

All three setups run at once (idle when not measured) and take turns, round after round, so drift
and other work on the machine hit them alike; each turn is a warm-up, then the measured window.
Each client keeps one session per turn (half legacy, half 2026-era, as tests/e2e/test_load.py)
and alternates `check_balance` and `ask_kimi` with a short prompt carrying a nonce the emulator
echoes, so every answer is checked against its own call. The emulator runs in a process of its
own with no delay between stream chunks, so Kimi is not the bottleneck. After each turn one
client alone makes a few calls one after the other: the "quiet" p50, latency without queueing.
Per setup it prints calls/s, p50 and p99 of each tool, errors (must be 0), and the CPU each
process used in the windows (/proc/PID/stat) as a share of one core, beside the whole machine's
(/proc/stat, other people's work included): the ceiling is a process near 100 %, or the machine
when it is near all of its cores.
Targets: B p50 - A p50 <= 1 ms for each tool; C calls/s / A calls/s >= 1.0.
"""

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

# Run as a script, Python puts this file's folder on the path, not the repository's: the harness
# lives in the `tests` package, so the repository root goes first.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import CANARY_KEY
from tests.e2e.conftest import TEST_TOKEN, auth_headers
from tests.e2e.load_driver import (
    NONCE,
    ProcStats,
    child,
    emulator_admin,
    emulator_command,
    percentile,
)
from tests.redis_server import RedisServer, _free_port, redis_available
from tests.team.cluster import (
    cluster,
    replica,
    replica_env,
    store_env,
    wait_ready,
)

CLIENTS = 32
TOOLS = ("check_balance", "ask_kimi")
MAX_CALLS = 200_000  # per client: the count bound beside the time bound
CALL_TIMEOUT = 60.0  # a lost answer surfaces as an error long after any p99
MACHINE = "machine (every process)"
B = "B  1 replica, Redis"
SLACK = 120.0  # on top of a setup's warm-up and window: only a hang trips it


@dataclass(frozen=True)
class Options:
    seconds: float  # measured per setup, over all rounds
    warmup: float  # per round and setup
    rounds: int
    quiet_calls: int  # per setup, over all rounds
    max_chats: int | None  # each replica's KIMI_MCP_MAX_CONCURRENT_CHATS; None: the default

    @property
    def window(self) -> float:
        return self.seconds / self.rounds

    @property
    def extra_env(self) -> dict[str, str]:
        if self.max_chats is None:
            return {}
        return {"KIMI_MCP_MAX_CONCURRENT_CHATS": str(self.max_chats)}


@dataclass
class Tally:
    """What the clients saw in one setup: latencies in the measured window, every error."""

    window: tuple[float, float] = (float("inf"), float("inf"))  # monotonic start, end
    latency: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TOOLS})
    errors: list[str] = field(default_factory=list)
    sent: int = 0

    def record(self, tool: str, started: float, ended: float) -> None:
        if self.window[0] <= started and ended <= self.window[1]:
            self.latency[tool].append(ended - started)


@dataclass
class Figures:
    name: str
    seconds: float
    tally: Tally
    cpu: dict[str, float]  # process label -> CPU seconds in the windows
    loads: list[float]  # the machine's 1-minute load average before each round
    quiet: Tally  # one client alone, calls one after the other: latency without queueing

    def absorb(self, other: "Figures") -> None:
        """Add another round of the same setup."""
        self.seconds += other.seconds
        self.loads += other.loads
        self.cpu = {k: self.cpu.get(k, 0.0) + other.cpu[k] for k in other.cpu}
        for mine, theirs in ((self.tally, other.tally), (self.quiet, other.quiet)):
            for tool in TOOLS:
                mine.latency[tool] += theirs.latency[tool]
            mine.errors += theirs.errors

    @property
    def ours(self) -> float:
        """CPU seconds of the processes of this setup (the machine's figure left out)."""
        return sum(used for label, used in self.cpu.items() if label != MACHINE)

    @property
    def calls(self) -> int:
        return sum(len(v) for v in self.tally.latency.values())

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def p(self, tool: str, fraction: float, quiet: bool = False) -> float:
        values = (self.quiet if quiet else self.tally).latency[tool]
        if not values:
            return float("nan")
        return (
            statistics.median(values) if fraction == 0.5 else percentile(values, fraction)
        ) * 1000


async def call_once(client: Client, tool: str) -> str | None:
    """One call; what is wrong with its answer, or None."""
    nonce = f"nonce-{secrets.token_hex(8)}"
    arguments = {"prompt": f"echo {nonce}"} if tool == "ask_kimi" else {}
    result = await client.call_tool(tool, arguments, read_timeout_seconds=CALL_TIMEOUT)
    data = result.structured_content or {}
    if result.is_error:
        return f"{tool}: error result {result.content!r}"[:300]
    if tool == "ask_kimi" and NONCE.findall(str(data.get("answer"))) != [nonce]:
        return f"ask_kimi {nonce}: answer {data.get('answer')!r}"[:300]
    if tool == "check_balance" and "available_balance" not in data:
        return f"check_balance: no balance in {data!r}"[:300]
    return None


async def run_client(
    url: str, n: int, tally: Tally, stop_at: float, max_calls: int = MAX_CALLS
) -> None:
    mode: Literal["legacy", "auto"] = "legacy" if n % 2 else "auto"
    timeout = httpx2.Timeout(30, read=CALL_TIMEOUT)
    http = httpx2.AsyncClient(headers=auth_headers(TEST_TOKEN), timeout=timeout)
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
        for count in range(max_calls):
            if time.monotonic() >= stop_at:
                return
            tool = TOOLS[(n + count) % len(TOOLS)]
            tally.sent += 1
            started = time.monotonic()
            try:
                problem = await call_once(client, tool)
            except Exception as exc:  # a protocol error or a lost answer: count it, go on
                problem = f"{tool}: {type(exc).__name__}: {exc}"[:300]
            if problem is not None:
                tally.errors.append(problem)
                continue
            tally.record(tool, started, time.monotonic())


def cpu_now(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each process, and of the whole machine (every process on it, ours
    or not: other work on shared cores takes them from the benchmark) under MACHINE."""
    used = {label: ProcStats.of(pid).cpu_s for label, pid in pids.items()}
    # /proc/stat's first line: ticks of all cores in user, nice, system, idle, iowait, ...
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    used[MACHINE] = (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    return used


async def measure(name: str, url: str, pids: dict[str, int], options: Options) -> Figures:
    """One round: CLIENTS sessions for warm-up + window (the figures count the window only),
    then one client alone for its share of `quiet_calls` calls."""
    warmup, seconds = options.warmup, options.window
    pids = {**pids, "clients (this process)": os.getpid()}
    labels = [*pids, MACHINE]
    tally, load = Tally(), os.getloadavg()[0]
    stop_at = time.monotonic() + warmup + seconds
    with anyio.fail_after(warmup + seconds + SLACK):
        async with anyio.create_task_group() as group:
            for n in range(CLIENTS):
                group.start_soon(run_client, url, n, tally, stop_at)
            await anyio.sleep(warmup)  # the warm-up is a length of time, not an event
            before, started = cpu_now(pids), time.monotonic()
            tally.window = (started, started + seconds)
            await anyio.sleep(seconds)  # the measured window, likewise
            after = cpu_now(pids)
    used = {label: after[label] - before[label] for label in labels}
    quiet = Tally(window=(0.0, float("inf")))
    with anyio.fail_after(SLACK):
        quiet_calls = max(2, options.quiet_calls // options.rounds)
        await run_client(url, 0, quiet, float("inf"), max_calls=quiet_calls)
    tally.errors += quiet.errors
    quiet.errors = []
    return Figures(name, seconds, tally, used, [load], quiet)


@asynccontextmanager
async def one_replica(
    emulator_url: str, workdir: Path, store: str, store_url: str | None, **extra: str
) -> AsyncIterator[tuple[str, dict[str, int]]]:
    env = replica_env(emulator_url, workdir, store_env(store, workdir, store_url, 0), **extra)
    async with replica(env, workdir) as served:
        await wait_ready(served.base)
        yield served.url, {"replica": served.process.pid}


async def run_setups(workdir: Path, options: Options) -> list[Figures]:
    """Every setup started once, then measured in turns, round after round, so drift (and the
    other work on a shared machine) hits them alike."""
    redis = RedisServer(_free_port(), workdir / "redis")
    (workdir / "redis").mkdir()
    emulator_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)}
    async with AsyncExitStack() as stack:
        emulator_url, emulator, _ = await stack.enter_async_context(
            child(emulator_command(CANARY_KEY), emulator_env, workdir, "emulator at ")
        )
        await emulator_admin(emulator_url, "config", {"stream_delay": 0})
        redis.start()
        stack.callback(redis.stop)  # stopped by pid however the run ends
        assert redis.process is not None
        shared = {"emulator": emulator.pid, "redis-server": redis.process.pid}
        setups = await start_setups(stack, emulator_url, workdir, redis.url, options)
        results: dict[str, Figures] = {}
        for round_number in range(options.rounds):
            turn = round_number % len(setups)  # who goes first changes each round
            for name, (url, pids) in [*setups.items()][turn:] + [*setups.items()][:turn]:
                figures = await measure(name, url, {**pids, **shared}, options)
                if name in results:
                    results[name].absorb(figures)
                else:
                    results[name] = figures
    return [results[name] for name in setups]


async def start_setups(
    stack: AsyncExitStack, emulator_url: str, workdir: Path, redis_url: str, options: Options
) -> dict[str, tuple[str, dict[str, int]]]:
    """A, B and C, each with a directory of its own; B and C in Redis databases of their own.
    Name -> (the MCP URL its clients use, its processes by label)."""
    setups = {}
    for name, store, url in (("A  1 replica, SQLite", "sqlite", None), (B, "redis", redis_url)):
        here = workdir / name[0]
        here.mkdir()
        served = one_replica(emulator_url, here, store, url, **options.extra_env)
        setups[name] = await stack.enter_async_context(served)
    (workdir / "C").mkdir()
    team_url = redis_url.removesuffix("/0") + "/1"
    team = await stack.enter_async_context(
        cluster(emulator_url, workdir / "C", "redis", team_url, **options.extra_env)
    )
    pids = {f"replica {n + 1}": r.process.pid for n, r in enumerate(team.replicas)}
    assert team.haproxy_log.pid is not None
    pids["haproxy"] = team.haproxy_log.pid
    setups["C  3 replicas, Redis, haproxy"] = (team.balancer, pids)
    return setups


def report(results: list[Figures], options: Options) -> None:
    cores = os.cpu_count() or 1
    bound = options.max_chats or "default"
    print(
        f"\n{CLIENTS} MCP clients over HTTP, {options.seconds:g} s per setup in {options.rounds} "
        f"rounds (each after {options.warmup:g} s of warm-up); quiet = 1 client alone, "
        f"{options.quiet_calls} calls; {cores} cores; max_concurrent_chats {bound}"
    )
    print(
        f"{'setup':30} {'calls/s':>7} {'balance p50/p99':>16} {'ask p50/p99':>14} "
        f"{'quiet bal/ask p50':>18} {'errors':>6} {'load':>4}   (ms)"
    )
    for r in results:
        balance = f"{r.p('check_balance', 0.5):.1f}/{r.p('check_balance', 0.99):.1f}"
        ask = f"{r.p('ask_kimi', 0.5):.1f}/{r.p('ask_kimi', 0.99):.1f}"
        quiet = f"{r.p('check_balance', 0.5, True):.2f}/{r.p('ask_kimi', 0.5, True):.2f}"
        print(
            f"{r.name:30} {r.rate:7.0f} {balance:>16} {ask:>14} {quiet:>18} "
            f"{len(r.tally.errors):6} {statistics.mean(r.loads):4.1f}"
        )
    report_cpu(results, cores)
    report_targets(results, cores)
    for r in results:
        for problem in r.tally.errors[:5]:
            print(f"  error in {r.name}: {problem}")


def report_cpu(results: list[Figures], cores: int) -> None:
    print("\nCPU in the measured window: seconds (share of one core)")
    for r in results:
        print(
            f"  {r.name} (ours {r.ours / r.seconds * 100:.0f} % of {cores * 100} %, "
            f"{r.ours / r.calls * 1000:.1f} ms of CPU per call):"
        )
        for label, used in sorted(r.cpu.items(), key=lambda item: -item[1]):
            print(f"    {label:24} {used:6.1f} s ({used / r.seconds * 100:4.0f} %)")


def report_targets(results: list[Figures], cores: int) -> None:
    a, b, c = results
    print()
    for tool in TOOLS:
        loaded = b.p(tool, 0.5) - a.p(tool, 0.5)
        quiet = b.p(tool, 0.5, True) - a.p(tool, 0.5, True)
        print(
            f"B p50 - A p50, {tool:13}: {loaded:+.2f} ms under load, {quiet:+.2f} ms quiet "
            "(target <= 1 ms)"
        )
    print(f"C calls/s / A calls/s: {c.rate / a.rate:.2f} (target >= 1.0)")
    # Contention from other work moves calls/s; the CPU a call costs moves much less.
    cost = (c.ours / c.calls) / (a.ours / a.calls)
    print(f"C CPU per call / A CPU per call: {cost:.2f} (all our processes)")
    for r in (a, c):
        ours = {label: used for label, used in r.cpu.items() if label != MACHINE}
        busiest, used = max(ours.items(), key=lambda item: item[1])
        print(
            f"{r.name[:1]}'s busiest process: {busiest} at {used / r.seconds * 100:.0f} % of a "
            f"core; ours {r.ours / r.seconds * 100:.0f} %, the machine "
            f"{r.cpu[MACHINE] / r.seconds * 100:.0f} % of {cores * 100} %"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per setup")
    parser.add_argument("--warmup", type=float, default=1.5, help="load before each window")
    parser.add_argument("--rounds", type=int, default=5, help="turns the setups take")
    parser.add_argument("--quiet-calls", type=int, default=200, help="one client alone, after")
    parser.add_argument("--max-chats", type=int, help="each replica's max_concurrent_chats")
    parsed = parser.parse_args()
    options = Options(
        parsed.seconds, parsed.warmup, max(1, parsed.rounds), parsed.quiet_calls, parsed.max_chats
    )
    missing = [b for b in ("redis-server", "haproxy") if shutil.which(b) is None]
    if missing or not redis_available():  # say what is missing before starting anything
        print(f"needs {' and '.join(missing)}: apt-get install redis-server haproxy")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-team-") as tmp:
        results = anyio.run(run_setups, Path(tmp), options)
    report(results, options)
    return 1 if any(r.tally.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
