"""Redis stops under three replicas behind haproxy: calls fail clearly with nothing sent to Kimi
and every replica's /readyz says 503; Redis starts again and every replica serves again, with no
replica restarted."""

from pathlib import Path

import anyio
import httpx2
import pytest

from kimi_mcp.emulator import Emulator
from tests.e2e.conftest import START_TIMEOUT, TEST_TOKEN, mcp_http_client
from tests.redis_server import RedisServer
from tests.team.cluster import cluster
from tests.team.test_replicas import ask
from tests.tool_results import chats, error_text

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]


async def _ready_statuses(bases: list[str]) -> list[int]:
    async with httpx2.AsyncClient(timeout=10) as http:
        return [(await http.get(f"{base}/readyz")).status_code for base in bases]


async def _until_ready(bases: list[str], wanted: int) -> None:
    """Poll /readyz (what a load balancer does) until every replica answers `wanted`."""
    with anyio.fail_after(START_TIMEOUT):
        while True:
            if await _ready_statuses(bases) == [wanted] * len(bases):
                return
            await anyio.sleep(0.1)  # polling a probe, bounded by fail_after


async def test_redis_down_fails_calls_clearly_and_readyz_503_then_recovers_without_restart(
    emulator_url: str, emulator: Emulator, workdir: Path, redis_server: RedisServer, redis_url: str
) -> None:
    async with cluster(emulator_url, workdir, "redis", redis_url) as team:
        bases = [r.base for r in team.replicas]
        pids = [r.process.pid for r in team.replicas]
        with anyio.fail_after(START_TIMEOUT * 4):
            async with mcp_http_client(team.balancer, TEST_TOKEN) as client:
                await ask(client, "before the outage")
            assert await _ready_statuses(bases) == [200, 200, 200]
            redis_server.stop()
            await _until_ready(bases, 503)
            sent_before = len(chats(emulator))
            async with mcp_http_client(team.replicas[1].url, TEST_TOKEN) as client:
                refused = error_text(await client.call_tool("ask_kimi", {"prompt": "during"}))
            assert "Redis is not reachable" in refused and "Nothing was sent to Kimi" in refused
            assert len(chats(emulator)) == sent_before
            redis_server.start()
            await _until_ready(bases, 200)
            for replica in team.replicas:
                async with mcp_http_client(replica.url, TEST_TOKEN) as client:
                    await ask(client, "after the outage")
        assert [r.process.pid for r in team.replicas] == pids
        assert all(r.process.returncode is None for r in team.replicas)
