"""kill -9 of one replica under load: no answered call is lost, and the others keep serving."""

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import anyio
import pytest

from tests.e2e.conftest import START_TIMEOUT, mcp_http_client
from tests.team.cluster import cluster
from tests.team.test_replicas import turns_of
from tests.tool_results import ok

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess, pytest.mark.slow]

CLIENTS = 16
DURATION = 20.0  # seconds of load
KILL_AT = 6.0  # seconds into the load: replica one dies
TURNS_PER_CONVERSATION = 8  # then a client starts a new one (keeps each request small)


@dataclass
class Tally:
    answered: dict[str, list[str]] = field(default_factory=dict)  # conversation -> prompts
    failed: int = 0
    answered_after_kill: int = 0
    killed: bool = False


async def client_loop(url: str, n: int, tally: Tally, stop_at: float) -> None:
    """Ask and continue conversations until `stop_at`; a failed call (the replica died under
    it) opens a new client, as a host would reconnect."""
    era: Literal["legacy", "auto"] = "legacy" if n % 2 else "auto"
    conversation: str | None = None
    calls = 0
    while anyio.current_time() < stop_at:
        try:
            async with mcp_http_client(url, mode=era) as client:
                while anyio.current_time() < stop_at:
                    calls += 1
                    prompt = f"client {n} call {calls}"
                    arguments = {"prompt": prompt}
                    if conversation is not None:
                        arguments["conversation_id"] = conversation
                    answered = ok(await client.call_tool("ask_kimi", arguments))
                    conversation = str(answered["conversation_id"])
                    tally.answered.setdefault(conversation, []).append(prompt)
                    tally.answered_after_kill += tally.killed
                    if len(tally.answered[conversation]) >= TURNS_PER_CONVERSATION:
                        conversation = None
        except Exception:
            tally.failed += 1


async def test_kill_9_of_a_replica_under_load_loses_no_answered_call(
    emulator_url: str, workdir: Path, store: tuple[str, str | None]
) -> None:
    tally = Tally()
    async with cluster(emulator_url, workdir, *store) as team:
        stop_at = anyio.current_time() + DURATION
        with anyio.fail_after(DURATION + START_TIMEOUT * 3):
            async with anyio.create_task_group() as group:
                for n in range(CLIENTS):
                    group.start_soon(client_loop, team.balancer, n, tally, stop_at)
                await anyio.sleep(KILL_AT)  # the scenario's clock: the kill comes mid-load
                await team.replicas[0].kill()
                tally.killed = True
            missing = []
            async with mcp_http_client(team.replicas[1].url) as reader:
                for conversation, prompts in tally.answered.items():
                    stored = [t["content"] for t in await turns_of(reader, conversation)]
                    missing += [p for p in prompts if p not in stored]
    answered = sum(map(len, tally.answered.values()))
    sys.stderr.write(
        f"\nkill -9 under load: {CLIENTS} clients, {DURATION:.0f} s, {answered} calls answered "
        f"({tally.answered_after_kill} after the kill), {tally.failed} failed, "
        f"{answered - len(missing)} of {answered} answered turns in the store\n"
    )
    assert missing == []
    assert tally.answered_after_kill >= CLIENTS  # the other replicas kept serving
