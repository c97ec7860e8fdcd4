"""Uploads stream from the checked descriptor: never whole in memory, never other bytes.

Reliability 5.1 case 15 (a file at the size limit is streamed from disk, memory bounded) and
case 16's rewrite-in-place variant (the bytes sent are the bytes hashed for the ledger).
"""

import hashlib
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


def bytes_read_by_this_process() -> int:
    """rchar: what this process passed to read() and pread() (not socket receives)."""
    for row in Path("/proc/self/io").read_text().splitlines():
        if row.startswith("rchar:"):
            return int(row.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


async def test_a_new_file_is_read_once_while_it_is_uploaded(workdir: Path, tmp_path: Path) -> None:
    """A new file is hashed as it is sent (the ledger's claim is taken before its last chunk),
    not read once to hash it and again to send it: 0.06 s of the 100 MB upload's 0.5 s here.
    The emulator runs in its own process, so its reads are not counted."""
    size = 24 * MIB
    (workdir / "report.txt").write_bytes(b"quarterly numbers\n" * (size // 18 + 1))
    size = (workdir / "report.txt").stat().st_size
    env = {"PATH": os.environ.get("PATH", "")}
    async with child(emulator_command(CANARY_KEY), env, workdir, "emulator at ") as (url, *_):
        client = client_for(url)
        ledger = SqliteUploadLedger(tmp_path / "uploads.sqlite3")
        documents = DocumentService(client, PathGuard([workdir]), ledger)
        try:
            await ledger.check()  # the ledger's own file reads are not the upload's
            before = bytes_read_by_this_process()
            upload = await documents.upload(
                "report.txt", "file-extract", deadline=anyio.current_time() + 60
            )
            read = bytes_read_by_this_process() - before
            again = await documents.upload(  # the same file again: found in the ledger
                "report.txt", "file-extract", deadline=anyio.current_time() + 60
            )
        finally:
            await client.aclose()
            await ledger.aclose()
    assert upload.file.bytes == size and not upload.reused
    assert again.reused and again.file.id == upload.file.id and again.sha256 == upload.sha256
    assert size <= read < size + MIB  # once (plus the ledger's pages), not twice


async def test_a_file_rewritten_during_a_one_pass_upload_is_stopped_and_not_stored(
    emulator: Emulator, emulator_url: str, workdir: Path, tmp_path: Path
) -> None:
    """Same size, new bytes after the first chunk left: a body mixing two versions is cut
    before its end, nothing is stored or recorded, and the content is not left claimed."""
    document = workdir / "draft.txt"
    document.write_bytes(b"a" * 2 * MIB)
    client = client_for(emulator_url)
    ledger = SqliteUploadLedger(tmp_path / "uploads.sqlite3")
    documents = DocumentService(client, PathGuard([workdir]), ledger)

    def rewrite_once(sent: int, total: int) -> None:
        if sent < total and document.read_bytes()[:1] == b"a":
            with document.open("r+b") as handle:  # in place: the open descriptor sees it
                handle.write(b"b" * total)

    try:
        with pytest.raises(InputError, match="changed while it was being uploaded"):
            await documents.upload(
                "draft.txt",
                "file-extract",
                deadline=anyio.current_time() + 30,
                on_progress=rewrite_once,
            )
        assert emulator.files == {}
        again = await documents.upload(  # nothing held: the new bytes go up at once
            "draft.txt", "file-extract", deadline=anyio.current_time() + 30
        )
    finally:
        await client.aclose()
        await ledger.aclose()
    assert list(emulator.files) == [again.file.id] and not again.reused
    assert again.sha256 == hashlib.sha256(b"b" * 2 * MIB).hexdigest()


async def test_content_another_process_uploaded_is_cut_before_its_end_and_reused(
    emulator: Emulator, emulator_url: str, workdir: Path, tmp_path: Path
) -> None:
    """A copy this process has never seen goes out in one pass; the ledger (shared, as after a
    restart or with a second process) knows its content when the last chunk is due, so the body
    is cut: Kimi keeps one file, and the copy gets its id. The form is httpx2's own (the name
    arrives intact)."""
    (workdir / "résumé final.txt").write_bytes(b"the same bytes\n" * 100_000)
    (workdir / "copy.txt").write_bytes(b"the same bytes\n" * 100_000)
    ledger_file = tmp_path / "uploads.sqlite3"
    uploads = []
    for name in ("résumé final.txt", "copy.txt"):  # two services: nothing seen in common
        client = client_for(emulator_url)
        ledger = SqliteUploadLedger(ledger_file)
        try:
            documents = DocumentService(client, PathGuard([workdir]), ledger)
            uploads.append(
                await documents.upload(name, "file-extract", deadline=anyio.current_time() + 30)
            )
        finally:
            await client.aclose()
            await ledger.aclose()
    first, copy = uploads
    assert first.file.filename == "résumé final.txt" and not first.reused
    assert copy.reused and copy.file.id == first.file.id and copy.sha256 == first.sha256
    assert list(emulator.files) == [first.file.id]
