"""A bounded load driver for the L-A and L-D tests (reliability.md 5.6): child processes, per-client
ledgers, and the figures the tests print."""

import os
import random
import re
import secrets
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx2
from anyio.abc import Process
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from kimi_mcp.emulator.catalogue import count_tokens
from tests.e2e.conftest import START_TIMEOUT, ServerLog

NONCE = re.compile(r"nonce-[0-9a-f]{16}")
# The call mix of 5.6 L-A: mostly cheap calls, a fifth of them a streamed chat.
MIX: list[tuple[str, int]] = [("estimate_tokens", 60), ("list_models", 20), ("ask_kimi", 20)]
CALL_TIMEOUT = 60.0  # a lost response surfaces as the SDK's request timeout, long after any p99

# The emulator in a process of its own, so that its work does not share the load generator's
# event loop; `on_ready` prints the real port when it was asked for port 0.
EMULATOR_SCRIPT = """
import sys, anyio
from kimi_mcp.emulator import run_emulator
def ready(url: str) -> None:
    print(f"emulator at {url}", file=sys.stderr, flush=True)
anyio.run(lambda: run_emulator(host="127.0.0.1", port=0, api_key=sys.argv[1], on_ready=ready))
"""


@asynccontextmanager
async def child(
    command: list[str], env: dict[str, str], workdir: Path, marker: str
) -> AsyncIterator[tuple[str, Process, ServerLog]]:
    """Start `command`; yields the rest of the stderr line after `marker`, the process and its
    log. On exit: SIGTERM, and a bounded wait."""
    log = ServerLog()
    process = await anyio.open_process(command, env=env, cwd=str(workdir))
    async with process, anyio.create_task_group() as group:
        group.start_soon(log.drain, process)
        try:
            yield await log.wait_for(marker), process, log
        finally:
            if process.returncode is None:
                process.terminate()
            with anyio.fail_after(START_TIMEOUT):
                await process.wait()


def emulator_command(api_key: str) -> list[str]:
    return [sys.executable, "-c", EMULATOR_SCRIPT, api_key]


def http_command() -> list[str]:
    return [sys.executable, "-m", "kimi_mcp", "--transport", "http", "--port", "0"]


async def emulator_admin(base_url: str, route: str, payload: object = None) -> Any:
    """POST to the emulator's admin route `route` (e.g. "config"); its JSON answer."""
    admin = base_url.removesuffix("/v1") + "/_emulator/" + route
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.post(admin, json=payload if payload is not None else {})
        response.raise_for_status()
        return response.json()


@dataclass(frozen=True)
class ProcStats:
    rss_kib: int
    peak_rss_kib: int
    fds: int
    cpu_s: float  # user + system time so far

    @classmethod
    def of(cls, pid: int) -> "ProcStats":
        status = dict(
            row.split(":", 1) for row in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        kib = {name: int(status[name].split()[0]) for name in ("VmRSS", "VmHWM")}
        fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
        # Fields 14 and 15 of /proc/PID/stat, after the parenthesised command name.
        ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]
        return cls(kib["VmRSS"], kib["VmHWM"], fds, sum(map(int, ticks)) / os.sysconf("SC_CLK_TCK"))


@dataclass
class Ledger:
    """One client's account of its calls: every request, and what came back for it."""

    name: str
    sent: int = 0
    answered: int = 0
    problems: list[str] = field(default_factory=list)  # wrong nonce, isError, timeout, ...
    nonces: list[str] = field(default_factory=list)  # the nonces seen in answers
    latency: dict[str, list[float]] = field(default_factory=dict)  # tool -> seconds

    @property
    def pending(self) -> int:
        return self.sent - self.answered

    def record(self, tool: str, arguments: dict[str, Any], nonce: str, result: Any) -> None:
        """Check one answer (a CallToolResult as it is on the wire) against its call."""
        if (problem := check_answer(tool, arguments, nonce, result)) is not None:
            self.problems.append(problem)
        if tool == "ask_kimi" and isinstance(result, dict):
            self.nonces += NONCE.findall(str((result.get("structuredContent") or {}).get("answer")))


def call_for(rng: random.Random) -> tuple[str, dict[str, Any], str]:
    """A call of the mix: (tool, arguments, nonce); the nonce is in every call's text."""
    nonce = f"nonce-{secrets.token_hex(8)}"
    tool = rng.choices([name for name, _ in MIX], weights=[weight for _, weight in MIX])[0]
    if tool == "ask_kimi":
        return tool, {"prompt": f"echo {nonce}"}, nonce
    if tool == "estimate_tokens":
        # A length of its own, so the count identifies the call it answers.
        return tool, {"text": f"count {nonce} " + "word " * rng.randrange(200)}, nonce
    return tool, {}, nonce


def check_answer(tool: str, arguments: dict[str, Any], nonce: str, result: Any) -> str | None:
    """What is wrong with `result` (a CallToolResult as it is on the wire) as the answer to this
    call, or None."""
    if not isinstance(result, dict) or result.get("isError"):
        return f"{tool} {nonce}: not a result: {result!r}"[:300]
    data = result.get("structuredContent") or {}
    if tool == "ask_kimi":
        found = NONCE.findall(str(data.get("answer", "")))
        return None if found == [nonce] else f"ask_kimi {nonce}: answer carries {found}"
    if tool == "estimate_tokens":
        expected = count_tokens([{"role": "user", "content": arguments["text"]}])
        if data.get("total_tokens") != expected:
            return f"estimate_tokens {nonce}: {expected} tokens expected, got {result!r}"[:600]
        return None
    return None if data.get("models") else f"list_models: no models in {data!r}"[:300]


async def run_client(
    url: str,
    token: str,
    ledger: Ledger,
    *,
    mode: Literal["legacy", "auto"],
    stop_at: float,
    max_calls: int,
    seed: int,
) -> None:
    """One SDK client session: calls from the mix, one at a time, until `stop_at` or `max_calls`.

    Ids start at 0 in every session, so they collide across clients (the CVE-2026-25536 shape)."""
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=CALL_TIMEOUT))
    async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
        for _ in range(max_calls):
            if time.monotonic() >= stop_at:
                break
            tool, arguments, nonce = call_for(rng)
            ledger.sent += 1
            started = time.monotonic()
            try:
                result = await client.call_tool(tool, arguments, read_timeout_seconds=CALL_TIMEOUT)
            except Exception as exc:  # a protocol error or a lost response: count it, go on
                ledger.problems.append(f"{tool} {nonce}: {type(exc).__name__}: {exc}"[:300])
                continue
            ledger.answered += 1
            ledger.latency.setdefault(tool, []).append(time.monotonic() - started)
            ledger.record(tool, arguments, nonce, result.model_dump(by_alias=True, mode="json"))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def latency_table(ledgers: list[Ledger]) -> list[str]:
    rows = []
    tools = sorted({tool for ledger in ledgers for tool in ledger.latency})
    for tool in tools:
        values = [v for ledger in ledgers for v in ledger.latency.get(tool, [])]
        rows.append(
            f"  {tool:16} n={len(values):6}  p50={statistics.median(values) * 1000:7.1f} ms"
            f"  p99={percentile(values, 0.99) * 1000:7.1f} ms  max={max(values) * 1000:7.1f} ms"
        )
    return rows
