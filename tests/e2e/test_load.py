"""Load (reliability.md 5.6): L-A, 32 SDK clients over streamable HTTP against a kimi-mcp child and
an emulator child; L-D, one raw stdio client with 16 requests in flight. Every answer is checked
against its own call (a nonce the emulator echoes, or a token count of the call's own text)."""

import os
import random
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest

from kimi_mcp.emulator import Emulator
from tests.conftest import CANARY_KEY
from tests.e2e.conftest import RAW_INITIALIZE, server_env
from tests.e2e.load_driver import (
    Ledger,
    ProcStats,
    call_for,
    child,
    emulator_admin,
    emulator_command,
    http_command,
    latency_table,
    run_client,
)
from tests.e2e.raw_stdio import id_key, line, raw_stdio

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

CLIENTS = 32
WARMUP = 5.0  # seconds of the same load before the memory baseline
DURATION = 30.0  # the measured run (5.6 says 60 s; sized for CI)
MAX_CALLS = 20_000  # per client and phase: the count bound beside the time bound
BOUND = 4  # KIMI_MCP_MAX_CONCURRENT_CHATS
STREAM_DELAY = 0.01  # seconds between the emulator's stream chunks
MAX_RSS_GROWTH_KIB = 50 * 1024
SLACK = 60.0  # on top of a phase's duration: only a hang trips it


async def run_phase(url: str, token: str, seconds: float, phase: str) -> list[Ledger]:
    """CLIENTS sessions for `seconds`, half in each protocol era; each closes (a legacy session
    with its DELETE) before this returns."""
    ledgers = [Ledger(f"{phase}-{n}") for n in range(CLIENTS)]
    stop_at = time.monotonic() + seconds

    async def client(n: int) -> None:
        mode: Literal["legacy", "auto"] = "legacy" if n % 2 else "auto"
        ledger = ledgers[n]
        await run_client(
            url, token, ledger, mode=mode, stop_at=stop_at, max_calls=MAX_CALLS, seed=n
        )

    with anyio.fail_after(seconds + SLACK):
        async with anyio.create_task_group() as group:
            for n in range(CLIENTS):
                group.start_soon(client, n)
    return ledgers


@pytest.mark.slow
async def test_l_a_32_http_clients_lose_nothing_and_upstream_stays_bounded(workdir: Path) -> None:
    token = secrets.token_urlsafe(32)
    emulator_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir)}
    async with child(emulator_command(CANARY_KEY), emulator_env, workdir, "emulator at ") as (
        base_url,
        _,
        emulator_log,
    ):
        await emulator_admin(base_url, "config", {"stream_delay": STREAM_DELAY})
        env = server_env(
            base_url,
            workdir,
            KIMI_MCP_MAX_CONCURRENT_CHATS=str(BOUND),
            KIMI_MCP_AUTH_TOKEN=token,
            KIMI_MCP_LOG_LEVEL="WARNING",  # DEBUG lines for every call would be the load
        )
        async with child(http_command(), env, workdir, "serving MCP at ") as (url, server, log):
            warm = await run_phase(url, token, WARMUP, "warm")
            before = ProcStats.of(server.pid)
            started = time.monotonic()
            ledgers = await run_phase(url, token, DURATION, "load")
            elapsed = time.monotonic() - started
            after = ProcStats.of(server.pid)
            peak = (await emulator_admin(base_url, "config"))["peak_streams"]
            alive = server.returncode is None
        server_log = log.text

    calls = sum(ledger.answered for ledger in ledgers)
    nonces = [nonce for ledger in warm + ledgers for nonce in ledger.nonces]
    duplicated = [nonce for nonce, seen in Counter(nonces).items() if seen > 1]
    print(
        "\n".join(
            [
                "",
                f"L-A: {CLIENTS} clients over streamable HTTP (half legacy sessions, half "
                f"2026-07-28), {DURATION:.0f} s after a {WARMUP:.0f} s warm-up, "
                f"stream delay {STREAM_DELAY * 1000:.0f} ms, bound {BOUND}",
                f"  calls {calls} in {elapsed:.1f} s = {calls / elapsed:.0f} calls/s "
                f"(warm-up {sum(ledger.answered for ledger in warm)})",
                *latency_table(ledgers),
                f"  problems {sum(len(ledger.problems) for ledger in warm + ledgers)}, "
                f"pending {sum(ledger.pending for ledger in warm + ledgers)}, "
                f"ask_kimi nonces {len(nonces)}, duplicated {len(duplicated)}",
                f"  peak upstream streams {peak} (bound {BOUND})",
                f"  server RSS {before.rss_kib / 1024:.1f} -> {after.rss_kib / 1024:.1f} MiB "
                f"(peak {after.peak_rss_kib / 1024:.1f} MiB), fds {before.fds} -> {after.fds}",
                f"  server CPU {after.cpu_s - before.cpu_s:.1f} s in the run; machine load "
                f"average {os.getloadavg()[0]:.1f} (shared cores make the figures noisy)",
            ]
        )
    )
    for ledger in warm + ledgers:
        assert ledger.problems == [], (ledger.name, ledger.problems[:5])
        assert ledger.pending == 0 and ledger.sent > 0, ledger
    assert duplicated == []
    asked = sum(len(ledger.latency.get("ask_kimi", [])) for ledger in warm + ledgers)
    assert len(nonces) == asked
    # Reaching the bound shows the load could have passed it.
    assert peak == BOUND
    assert after.rss_kib - before.rss_kib < MAX_RSS_GROWTH_KIB
    assert after.fds <= before.fds + 10
    assert alive and "Traceback" not in server_log, server_log[-3000:]
    assert "Traceback" not in emulator_log.text, emulator_log.text[-3000:]


IN_FLIGHT = 16
STDIO_DURATION = 5.0


async def test_l_d_stdio_16_in_flight_every_answer_under_its_own_id(
    emulator_url: str, emulator: Emulator, workdir: Path
) -> None:
    """16 workers, each with one request in flight. Worker pairs use the same numbers, one as
    JSON integers and one as strings, so 7 and "7" are often in flight together: JSON-RPC says
    they are different ids."""
    emulator.stream_delay = 0.002
    env = server_env(emulator_url, workdir, KIMI_MCP_LOG_LEVEL="WARNING")
    sent: dict[str, tuple[str, dict[str, Any], str]] = {}  # id -> (tool, arguments, nonce)
    ledger = Ledger("stdio")
    async with raw_stdio(env, workdir) as session:
        await session.initialize()
        stop_at = time.monotonic() + STDIO_DURATION

        async def worker(number: int) -> None:
            rng = random.Random(number)
            for count in range(MAX_CALLS):
                if time.monotonic() >= stop_at:
                    return
                value = (number // 2 + 1) * 1_000_000 + count  # clear of initialize (id 1)
                request_id: int | str = value if number % 2 else str(value)
                tool, arguments, nonce = sent[id_key(request_id)] = call_for(rng)
                params = {"name": tool, "arguments": arguments}
                ledger.sent += 1
                request = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call"}
                started = time.monotonic()
                await session.send(line(request | {"params": params}))
                answer = await session.wait_for(request_id)
                ledger.answered += 1
                ledger.latency.setdefault(tool, []).append(time.monotonic() - started)
                ledger.record(tool, arguments, nonce, answer.get("result"))

        with anyio.fail_after(STDIO_DURATION + SLACK):
            async with anyio.create_task_group() as group:
                for number in range(IN_FLIGHT):
                    group.start_soon(worker, number)
        await session.probe()
    assert ledger.problems == [], ledger.problems[:5]
    assert ledger.sent == ledger.answered > IN_FLIGHT
    answered = {key for key in session.by_id if "probe-" not in key}
    assert answered == set(sent) | {id_key(RAW_INITIALIZE["id"])}
    assert all(len(answers) == 1 for answers in session.by_id.values())
    assert not session.not_json_rpc
    assert len(ledger.nonces) == len(set(ledger.nonces))
    print(f"\nL-D: {ledger.answered} stdio calls, {IN_FLIGHT} in flight, {STDIO_DURATION:.0f} s")
    print("\n".join(latency_table([ledger])))
