"""tools/list size: what every host sends its model on every turn, as characters of compact JSON
(`json.dumps(tools, separators=(",", ":"))` of the `tools` array kimi-mcp writes on stdio).

The figure is deterministic, so one start of each server is enough, quick or not. The floor is
the bare echo server's tools/list: a reference for scale only, since the target is absolute.
"""

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

from tests.benchmarks.bench_overhead import HANDSHAKE, commands
from tests.benchmarks.speed.figures import Figure
from tests.server.test_tool_selection import BUDGET_ALL_TOOLS, BUDGET_ASK_KIMI_ALONE

BEFORE = {"all": 17_965, "ask_kimi": 6_748}  # before issue 13 (README, test budgets)
UNUSED_UPSTREAM = "http://127.0.0.1:9/v1"  # tools/list sends nothing upstream
START_TIMEOUT = 30  # seconds, on a busy 2-core machine
BARE_FLOOR = "bare MCPServer, one echo tool (a reference: the target is absolute)"


def compact(value: Any) -> int:
    """Characters of `value` as compact JSON."""
    return len(json.dumps(value, separators=(",", ":")))


async def listed_tools(command: list[str], env: dict[str, str], cwd: Path) -> list[dict[str, Any]]:
    """The `tools` array of a stdio server's answer to tools/list, as it wrote it."""
    async with await anyio.open_process(command, env=env, cwd=str(cwd)) as process:
        assert process.stdin is not None and process.stdout is not None
        try:
            await process.stdin.send("".join(json.dumps(m) + "\n" for m in HANDSHAKE).encode())
            buffered = b""
            with anyio.fail_after(START_TIMEOUT):
                while True:
                    buffered += await process.stdout.receive()
                    *lines, buffered = buffered.split(b"\n")
                    for line in lines:
                        message = json.loads(line)
                        if message.get("id") == 2:
                            tools: list[dict[str, Any]] = message["result"]["tools"]
                            return tools
        finally:
            await process.stdin.aclose()
            with anyio.move_on_after(START_TIMEOUT):
                await process.wait()
            if process.returncode is None:
                process.kill()  # this child only, by its pid


def parts(tools: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Each tool's characters, whole and by part (description, inputSchema, outputSchema...)."""
    return {
        tool["name"]: {"total": compact(tool)} | {key: compact(part) for key, part in tool.items()}
        for tool in tools
    }


def keywords(tools: list[dict[str, Any]]) -> dict[str, int]:
    """How many characters each JSON key carries, its value included (the costliest first)."""
    counts: Counter[str] = Counter()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                counts[key] += compact({key: inner}) - 2
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(tools)
    return dict(counts.most_common(12))


def figure(
    name: str, tools: list[dict[str, Any]], budget: int, floor: float, **detail: Any
) -> Figure:
    chars = compact(tools)
    return Figure(
        name=name,
        value=chars,
        unit="characters",
        target=f"<= {budget:,}",
        met=chars <= budget,
        floor=floor,
        floor_name=BARE_FLOOR,
        detail={"tools": len(tools), "per_tool": parts(tools), **detail},
    )


async def measure(quick: bool) -> list[Figure]:
    del quick  # deterministic: one start of each server either way
    with tempfile.TemporaryDirectory(prefix="bench-tool-list-") as tmp:
        workdir = Path(tmp)
        specs = commands(UNUSED_UPSTREAM, "sk-bench-tool-list", workdir)
        bare = await listed_tools(*specs["bare"], workdir)
        kimi_cmd, kimi_env = specs["kimi-mcp"]
        everything = await listed_tools(kimi_cmd, kimi_env, workdir)
        alone_env = kimi_env | {"KIMI_MCP_TOOLS": "ask_kimi"}
        ask_alone = await listed_tools(kimi_cmd, alone_env, workdir)
    floor = float(compact(bare))
    return [
        figure(
            "tools/list characters, all tools",
            everything,
            BUDGET_ALL_TOOLS,
            floor,
            before=BEFORE["all"],
            costliest_keys=keywords(everything),
        ),
        figure(
            "tools/list characters, ask_kimi alone (KIMI_MCP_TOOLS=ask_kimi)",
            ask_alone,
            BUDGET_ASK_KIMI_ALONE,
            floor,
            before=BEFORE["ask_kimi"],
        ),
    ]
