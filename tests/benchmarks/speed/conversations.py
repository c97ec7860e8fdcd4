"""Conversations: list_conversations at 10,000 against 100, and store hops per ask_kimi (ask_kimi's
own overhead at turn 10 and at turn 200 is the `stdio_calls` part's).

Everything runs for real: kimi-mcp as a stdio subprocess driven by the official `mcp.Client`,
the bare `MCPServer` of `bare_server.py` beside it, the emulator on loopback. Data directories
are filled through the store's own write (without a thread hop per conversation, so 10,000 take
about a second), then the variants are called in turn, round after round, so drift hits all of
them alike; figures are medians.
"""

import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import anyio.to_thread
from mcp import Client, StdioServerParameters

from kimi_mcp.config import load_settings
from kimi_mcp.emulator import Emulator, serve_emulator
from kimi_mcp.server import build_server
from kimi_mcp.store.conversations import DEFAULT_OWNER, Turn, new_conversation
from kimi_mcp.store.sqlite_conversations import SqliteConversationStore
from tests.benchmarks.bench_overhead import commands
from tests.benchmarks.speed.figures import Figure, median
from tests.store.hops import counted_hops, store_file

MODEL = "kimi-k2.6"
LISTED = (100, 10_000)  # conversations in the data directory
ASK = {"prompt": "benchmark question", "thinking": False}
Call = Callable[[], Awaitable[object]]


async def measure(quick: bool) -> list[Figure]:
    emulator = Emulator()
    with tempfile.TemporaryDirectory(prefix="kimi-bench-conversations-") as tmp:
        root = Path(tmp)
        async with serve_emulator(emulator) as base_url:
            figures = [await _listing(root, base_url, emulator.api_key, quick)]
            figures.append(await _store_hops(root, base_url, emulator.api_key))
    return figures


# list_conversations ------------------------------------------------------------------------------


async def _listing(root: Path, base_url: str, key: str, quick: bool) -> Figure:
    clients: dict[int, StdioServerParameters] = {}
    for size in LISTED:
        workdir = root / f"listed-{size}"
        await _fill(workdir / "d", size, turns=2)
        clients[size] = _kimi_mcp(base_url, key, workdir)
    rounds, warm = (5, 3) if quick else (300, 20)
    samples: dict[int, list[float]] = {size: [] for size in LISTED}
    async with Client(clients[LISTED[0]]) as small, Client(clients[LISTED[1]]) as large:
        calls = {
            LISTED[0]: lambda: _ok(small.call_tool("list_conversations", {})),
            LISTED[1]: lambda: _ok(large.call_tool("list_conversations", {})),
        }
        await _rounds(calls, warm, {size: [] for size in LISTED})  # the first purge, imports
        await _rounds(calls, rounds, samples)
    at_small, at_large = median(samples[LISTED[0]]), median(samples[LISTED[1]])
    ratio = at_large / at_small
    return Figure(
        name="list_conversations at 10,000 conversations",
        value=at_large,
        unit="ms",
        target="<= 1.2x the time at 100",
        met=ratio <= (1.5 if quick else 1.2),
        floor=at_small,
        floor_name="list_conversations at 100 conversations",
        detail={"rounds": rounds, "limit": 20, "samples_ms": _rounded(samples)},
    )


# Store hops per ask_kimi -------------------------------------------------------------------------


async def _store_hops(root: Path, base_url: str, key: str) -> Figure:
    """In process (the hops are counted where they happen): a continued conversation's ask."""
    workdir = root / "hops"
    workdir.mkdir()
    settings = load_settings(
        api_key=key, base_url=base_url, allowed_dirs=[workdir], data_dir=workdir / "d"
    )
    async with Client(build_server(settings)) as client:
        first = await _ok(client.call_tool("ask_kimi", ASK))
        continued = {**ASK, "conversation_id": first["conversation_id"]}
        await _ok(client.call_tool("ask_kimi", continued))
        with counted_hops() as hops:
            await _ok(client.call_tool("ask_kimi", continued))
    stores = [f"{store_file(hop)}: {hop.__qualname__}" for hop in hops if store_file(hop)]
    return Figure(
        name="store hops per ask_kimi (continued conversation)",
        value=len(stores),
        unit="thread hand-offs",
        target="<= 2: one load (which checks the store), one for the writes after the answer",
        met=len(stores) <= 2,
        detail={"store_hops": stores, "all_thread_hops": len(hops)},
    )


# Helpers -----------------------------------------------------------------------------------------


def _kimi_mcp(base_url: str, key: str, workdir: Path) -> StdioServerParameters:
    command, env = commands(base_url, key, workdir)["kimi-mcp"]
    files = workdir / "files"  # not the HOME it is given: kimi-mcp rightly warns about that
    files.mkdir(parents=True, exist_ok=True)
    env = {**env, "KIMI_MCP_ALLOWED_DIRS": str(files)}
    return StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=str(workdir))


async def _fill(data_dir: Path, conversations: int, *, turns: int) -> list[str]:
    """`conversations` of `turns` questions and answers each, written as ask_kimi would."""
    store = SqliteConversationStore(data_dir / "conversations.sqlite3", ttl_days=30)

    def fill() -> list[str]:
        ids = []
        for number in range(conversations):
            conversation = new_conversation(MODEL, None, owner=DEFAULT_OWNER)
            history = [
                Turn("assistant" if i % 2 else "user", f"message {i} of {number} " + "w" * 200)
                for i in range(2 * turns)
            ]
            store.append_blocking(conversation, history, MODEL, [])
            ids.append(conversation.id)
        return ids

    try:
        return await anyio.to_thread.run_sync(fill)
    finally:
        await store.aclose()


async def _rounds(calls: Mapping[int, Call], rounds: int, samples: dict[int, list[float]]) -> None:
    for at in range(rounds):  # alternating which goes first, so neither always follows the other
        names = list(calls)
        order = names if at % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(await _timed(calls[name]))


async def _timed(call: Call) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def _ok_call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return await _ok(client.call_tool(tool, arguments))


async def _ok(pending: Awaitable[Any]) -> dict[str, Any]:
    result = await pending
    if result.is_error:
        raise RuntimeError(f"benchmark call failed: {result.content}")
    structured: dict[str, Any] = result.structured_content
    return structured


def _rounded(samples: dict[int, list[float]]) -> dict[str, list[float]]:
    return {str(key): [round(value, 4) for value in values] for key, values in samples.items()}
