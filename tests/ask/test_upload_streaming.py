"""Uploads stream from the checked descriptor: never whole in memory, never other bytes.

Reliability 5.1 case 15 (a file at the size limit is streamed from disk, memory bounded) and
case 16's rewrite-in-place variant (the bytes sent are the bytes hashed for the ledger).
"""

import os
import tracemalloc
from pathlib import Path

import anyio
import pytest
from pydantic import SecretStr

from kimi_mcp.ask.documents import DocumentService
from kimi_mcp.emulator import Emulator
from kimi_mcp.errors import InputError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.local_files.guard import PathGuard
from kimi_mcp.store.sqlite_uploads import SqliteUploadLedger
from tests.conftest import CANARY_KEY, USER_AGENT
from tests.e2e.load_driver import child, emulator_command

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
MEMORY_BOUND = 32 * MIB  # case 15: growth during the upload


def client_for(url: str, key: str = CANARY_KEY) -> KimiClient:
    return KimiClient(user_agent=USER_AGENT, api_key=SecretStr(key), base_url=url, max_retries=0)


async def test_a_file_rewritten_during_its_upload_is_stopped_and_not_stored(
    emulator: Emulator, emulator_url: str, workdir: Path
) -> None:
    """Same size, new bytes after the hash: the reader cuts the body short before its end."""
    document = workdir / "draft.txt"
    document.write_bytes(b"a" * 300_000)
    client = client_for(emulator_url)
    try:
        async with PathGuard([workdir]).opened("draft.txt") as local:
            document.write_bytes(b"b" * 300_000)  # in place: the open descriptor sees it
            with pytest.raises(InputError, match="changed while it was being uploaded"):
                await client.upload_file(
                    local.name, local.reader(), "file-extract", deadline=anyio.current_time() + 30
                )
    finally:
        await client.aclose()
    assert emulator.files == {}


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(24 * MIB, id="24MiB"),
        pytest.param(100 * MIB, id="100MiB", marks=pytest.mark.slow),
    ],
)
async def test_case_15_an_upload_streams_from_disk_in_bounded_memory(
    workdir: Path, tmp_path: Path, size: int
) -> None:
    """case 15: the upload arrives whole while this process's allocations stay under 32 MiB
    (the emulator runs in its own process, so only kimi-mcp's side is measured)."""
    env = {"PATH": os.environ.get("PATH", "")}
    big = workdir / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(size)  # sparse: no disk blocks
    try:
        async with child(emulator_command(CANARY_KEY), env, workdir, "emulator at ") as (url, *_):
            client = client_for(url)
            ledger = SqliteUploadLedger(tmp_path / "uploads.sqlite3")
            documents = DocumentService(client, PathGuard([workdir]), ledger)
            tracemalloc.start()
            try:
                upload = await documents.upload(
                    "big.bin", "file-extract", deadline=anyio.current_time() + 120
                )
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
                await client.aclose()
                await ledger.aclose()
    finally:
        big.unlink()
    print(f"upload of {size // MIB} MiB: peak traced allocations {peak / MIB:.1f} MiB")
    assert upload.file.bytes == size and not upload.reused
    assert peak < MEMORY_BOUND
