"""Estimate-token-count requests per ask_kimi (issue 13: no token-count storms).

kimi-mcp runs as a real stdio subprocess (the official MCP client) against the emulator served
in this process on loopback; the emulator's request log says how many counts each ask made.
On moonshot-v1-8k (8,192 tokens, 2,048 kept for the answer), three conversations:
- inside the window: turns of ~500 tokens (~2,000 bytes, so the local byte bound stops proving
  the fit by the third turn); asks after the first one;
- a long one past the window: turns of ~310 tokens, about 19 fit, so every call drops turns
  once it is past the window; the last asks are the steady state;
- the same long one continued by a new kimi-mcp process on the same data directory (a restart).
These figures are counts, not times: there is no floor (the floor of a count is 0), and they do
not depend on the machine's load.
"""

import statistics
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from kimi_mcp.emulator import Emulator, serve_emulator
from tests.benchmarks.bench_overhead import commands
from tests.benchmarks.speed.figures import Figure

ESTIMATE = "/v1/tokenizers/estimate-token-count"
MODEL = "moonshot-v1-8k"
NO_FLOOR = "none (a count)"


class Talk:
    """One conversation: each ask's count requests, read from the emulator's log."""

    def __init__(self, emulator: Emulator, words: int) -> None:
        self.emulator = emulator
        self.words = words
        self.conversation: str | None = None
        self.requests: list[int] = []

    async def ask(self, client: Client, index: int) -> None:
        args: dict[str, Any] = {"prompt": f"part {index} " + "word " * self.words, "model": MODEL}
        if self.conversation:
            args["conversation_id"] = self.conversation
        before = _estimates(self.emulator)
        result = await client.call_tool("ask_kimi", args)
        if result.is_error or result.structured_content is None:
            raise RuntimeError(f"ask_kimi failed: {result.content}")
        self.requests.append(_estimates(self.emulator) - before)
        self.conversation = str(result.structured_content["conversation_id"])


def _estimates(emulator: Emulator) -> int:
    return sum(record.path == ESTIMATE for record in emulator.requests)


def _replying(words: int) -> Callable[[list[dict[str, Any]]], str]:
    """Answers that differ turn by turn (one seen before would be counted already)."""
    return lambda messages: f"{str(messages[-1]['content'])[:8]}: " + "answer " * words


@asynccontextmanager
async def _kimi_mcp(base_url: str, key: str, workdir: Path) -> AsyncIterator[Client]:
    """kimi-mcp over stdio; leaving the block ends the process (the SDK waits for it)."""
    command, env = commands(base_url, key, workdir)["kimi-mcp"]
    env = {**env, "HOME": str(workdir.parent)}  # not inside the allowed dir (kimi-mcp warns)
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(workdir))
    async with Client(params) as client:
        yield client


def _figure(name: str, values: list[int], target: str, limit: int, **detail: Any) -> Figure:
    worst = max(values) if values else 0
    return Figure(
        name=name,
        value=worst,
        unit="requests per ask (max)",
        target=target,
        met=worst <= limit,
        floor=None,
        floor_name=NO_FLOOR,
        detail={"mean": statistics.fmean(values) if values else 0.0, "per_ask": values, **detail},
    )


async def measure(quick: bool) -> list[Figure]:
    inside_asks, long_asks, steady, after = (6, 30, 5, 3) if quick else (10, 60, 20, 10)
    emulator = Emulator()
    with tempfile.TemporaryDirectory(prefix="bench-counts-") as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        async with serve_emulator(emulator) as base_url:
            key = emulator.api_key
            inside, long = Talk(emulator, 200), Talk(emulator, 80)
            async with _kimi_mcp(base_url, key, workdir) as client:
                emulator.reply = _replying(140)
                for index in range(inside_asks):
                    await inside.ask(client, index)
                emulator.reply = _replying(115)
                for index in range(long_asks):
                    await long.ask(client, index)
            restart_from = len(long.requests)
            async with _kimi_mcp(base_url, key, workdir) as client:  # a restart: a new process
                for index in range(long_asks, long_asks + after):
                    await long.ask(client, index)
    crossing = long.requests[:restart_from]
    return [
        _figure(
            "estimate requests per ask_kimi, steady state (8k model, turns dropped every call)",
            long.requests[restart_from - steady : restart_from],
            "<= 1",
            1,
            asks=long_asks,
            worst_while_crossing_the_window=max(crossing),
        ),
        _figure(
            "estimate requests per ask_kimi, inside the window after turn 1",
            inside.requests[1:],
            "0",
            0,
        ),
        _figure(
            "estimate requests per ask_kimi, after a restart (steady state)",
            long.requests[restart_from:],
            "<= 1",
            1,
        ),
    ]


if __name__ == "__main__":  # the module alone: python -m tests.benchmarks.speed.token_counts
    import anyio

    for figure in anyio.run(measure, "--quick" in sys.argv):
        print(figure.name, figure.value, figure.met, figure.detail.get("mean"))
