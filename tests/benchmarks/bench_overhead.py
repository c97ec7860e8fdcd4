"""kimi-mcp against a bare MCPServer and against direct calls to the emulator, in one run.

Run on purpose (not part of the test suite):

    .venv/bin/python tests/benchmarks/bench_overhead.py [--runs 20] [--calls 200]

Prints medians and ratios:
- cold start: spawn to the answer to tools/list over stdio (raw JSON-RPC pipes, same for both);
- idle RSS of the server process right after that answer;
- per-call round trip through the SDK client over stdio: bare `echo`, kimi-mcp `check_balance`
  and `ask_kimi`, each kimi-mcp figure also minus the direct upstream call (httpx2 straight to the
  emulator), which is kimi-mcp's own overhead.
Targets: start and memory within 1.10x of the bare server; overhead <= bare round trip + 0.5 ms.
Every measurement alternates between the variants so drift hits them alike.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters

from kimi_mcp.emulator import Emulator, serve_emulator

HERE = Path(__file__).resolve().parent
HANDSHAKE = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"},
        },
    },
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]
PROMPT = "benchmark question"


def commands(base_url: str, key: str, workdir: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir / "c")}
    kimi_env = {
        **env,
        "MOONSHOT_API_KEY": key,
        "MOONSHOT_BASE_URL": base_url,
        "KIMI_MCP_ALLOWED_DIRS": str(workdir),
        "KIMI_MCP_DATA_DIR": str(workdir / "d"),
    }
    return {
        "bare": ([sys.executable, str(HERE / "bare_server.py")], env),
        "kimi-mcp": ([sys.executable, "-m", "kimi_mcp"], kimi_env),
    }


async def cold_start(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Seconds from spawn to the tools/list answer, and the RSS (MiB) just after it."""
    started = time.perf_counter()
    async with await anyio.open_process(command, env=env, cwd=str(cwd)) as process:
        assert process.stdin is not None and process.stdout is not None
        await process.stdin.send("".join(json.dumps(m) + "\n" for m in HANDSHAKE).encode())
        seen = b""
        with anyio.fail_after(30):
            while b'"id":2' not in seen.replace(b" ", b""):
                seen += await process.stdout.receive()
        elapsed = time.perf_counter() - started
        rss = _rss_mib(process.pid)
        await process.stdin.aclose()
        await process.wait()
    return elapsed, rss


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def timed(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def round_trips(
    base_url: str, key: str, workdir: Path, rounds: int, calls: int
) -> dict[str, float]:
    specs = commands(base_url, key, workdir)
    bare_cmd, bare_env = specs["bare"]
    kimi_cmd, kimi_env = specs["kimi-mcp"]
    bare_params = StdioServerParameters(command=bare_cmd[0], args=bare_cmd[1:], env=bare_env)
    kimi_params = StdioServerParameters(
        command=kimi_cmd[0], args=kimi_cmd[1:], env=kimi_env, cwd=str(workdir)
    )
    chat_body = {
        "model": "kimi-k2.6",
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": True,
        "thinking": {"type": "disabled"},
    }
    headers = {"Authorization": f"Bearer {key}"}
    samples: dict[str, list[float]] = {
        k: [] for k in ("bare", "balance", "ask", "direct_balance", "direct_ask")
    }
    async with (
        Client(bare_params) as bare,
        Client(kimi_params) as kimi,
        httpx2.AsyncClient(base_url=base_url, headers=headers) as http,
    ):

        async def direct_ask() -> None:
            async with http.stream("POST", "/chat/completions", json=chat_body) as response:
                async for _ in response.aiter_lines():
                    pass

        variants: dict[str, Callable[[], Awaitable[object]]] = {
            "bare": lambda: bare.call_tool("echo", {"text": "x"}),
            "balance": lambda: kimi.call_tool("check_balance", {}),
            "direct_balance": lambda: http.get("/users/me/balance"),
            "ask": lambda: kimi.call_tool("ask_kimi", {"prompt": PROMPT, "thinking": False}),
            "direct_ask": direct_ask,
        }
        for call in variants.values():  # warm-up: first-use costs are not per-call overhead
            await timed(call, 20)
        for _ in range(rounds):
            for name, call in variants.items():
                samples[name] += await timed(call, calls // rounds)
    return {name: statistics.median(values) for name, values in samples.items()}


async def main(runs: int, calls: int) -> None:
    emulator = Emulator()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with serve_emulator(emulator) as base_url:
            specs = commands(base_url, emulator.api_key, workdir)
            starts: dict[str, list[float]] = {"bare": [], "kimi-mcp": []}
            rss: dict[str, list[float]] = {"bare": [], "kimi-mcp": []}
            for run in range(runs):
                order = ["bare", "kimi-mcp"] if run % 2 == 0 else ["kimi-mcp", "bare"]
                for name in order:
                    elapsed, mib = await cold_start(*specs[name], workdir)
                    starts[name].append(elapsed * 1000)
                    rss[name].append(mib)
            medians = await round_trips(base_url, emulator.api_key, workdir, rounds=10, calls=calls)
    report(starts, rss, medians, runs, calls)


def report(
    starts: dict[str, list[float]],
    rss: dict[str, list[float]],
    rt: dict[str, float],
    runs: int,
    calls: int,
) -> None:
    start_b, start_k = statistics.median(starts["bare"]), statistics.median(starts["kimi-mcp"])
    rss_b, rss_k = statistics.median(rss["bare"]), statistics.median(rss["kimi-mcp"])
    balance_overhead = rt["balance"] - rt["direct_balance"]
    ask_overhead = rt["ask"] - rt["direct_ask"]
    budget = rt["bare"] + 0.5
    print(
        f"cold start (median of {runs}): bare {start_b:.0f} ms, kimi-mcp {start_k:.0f} ms, "
        f"ratio {start_k / start_b:.3f} (target <= 1.10)"
    )
    print(
        f"idle RSS   (median of {runs}): bare {rss_b:.1f} MiB, kimi-mcp {rss_k:.1f} MiB, "
        f"ratio {rss_k / rss_b:.3f} (target <= 1.10)"
    )
    print(f"round trip (median of {calls} calls each): bare echo {rt['bare']:.2f} ms")
    print(
        f"  check_balance {rt['balance']:.2f} ms - direct {rt['direct_balance']:.2f} ms = "
        f"overhead {balance_overhead:.2f} ms (target <= {budget:.2f} ms)"
    )
    print(
        f"  ask_kimi      {rt['ask']:.2f} ms - direct {rt['direct_ask']:.2f} ms = "
        f"overhead {ask_overhead:.2f} ms (target <= {budget:.2f} ms)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--calls", type=int, default=200)
    options = parser.parse_args()
    anyio.run(main, options.runs, options.calls)
