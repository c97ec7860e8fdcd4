"""One upload per content across real processes sharing a data directory.

Kimi keeps at most 1,000 files per account; two kimi-mcp processes (two MCP clients on one
machine) asked for the same new file each uploaded it. The claim in the upload ledger makes the
second wait for the first's result and reuse it.
"""

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from kimi_mcp.emulator import Emulator, Fault
from tests.e2e.conftest import START_TIMEOUT, server_env, stdio_params
from tests.tool_results import ok

pytestmark = [pytest.mark.anyio, pytest.mark.subprocess]

SLOW_UPLOAD = 2.0  # seconds the emulator holds the first upload: both calls are in flight


async def test_two_processes_uploading_the_same_new_file_upload_it_once(
    emulator: Emulator, emulator_url: str, workdir: Path
) -> None:
    (workdir / "report.txt").write_bytes(b"quarterly numbers\n" * 1000)
    params = stdio_params(server_env(emulator_url, workdir), workdir)  # one data dir for both
    results: list[dict[str, Any]] = []

    async def upload(client: Client) -> None:
        results.append(ok(await client.call_tool("upload_file", {"path": "report.txt"})))

    with anyio.fail_after(START_TIMEOUT * 3):
        async with Client(params) as one, Client(params) as two:
            # Each opens the ledger first, one after the other: two processes creating a fresh
            # SQLite file at the same instant can fail to switch it to WAL ("database is
            # locked"), a store matter apart from the claims tested here.
            for index, client in enumerate((one, two)):
                (workdir / f"warmup{index}.txt").write_text(f"warm-up {index}", encoding="utf-8")
                ok(await client.call_tool("upload_file", {"path": f"warmup{index}.txt"}))
            emulator.inject(
                Fault("slow", path="/v1/files", method="POST", delay=SLOW_UPLOAD, times=2)
            )
            async with anyio.create_task_group() as group:
                group.start_soon(upload, one)
                group.start_soon(upload, two)
    posts = [r for r in emulator.requests if r.path == "/v1/files" and r.method == "POST"]
    assert len(posts) == 3 and len(emulator.files) == 3  # the two warm-ups and one report
    assert len({r["id"] for r in results}) == 1
    assert sorted(r["reused"] for r in results) == [False, True]
