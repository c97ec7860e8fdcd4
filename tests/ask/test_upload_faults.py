"""Uploads that leave nothing behind: one per content across ledgers sharing a data directory, no
orphan when the ledger cannot record one, a deadline that grows with the size, one audit line
per upload whatever the file is called."""

import sqlite3
from pathlib import Path

import anyio
import pytest
from mcp import Client
from pydantic import SecretStr

from kimi_mcp.ask.documents import DocumentService, Upload
from kimi_mcp.config import Settings
from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.errors import APITimeoutError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.local_files.guard import PathGuard
from kimi_mcp.store.sqlite_uploads import SqliteUploadLedger
from tests.conftest import CANARY_KEY, USER_AGENT
from tests.tool_results import error_text, ok

pytestmark = pytest.mark.anyio

UPLOADS = "/v1/files"
SLOW_UPLOAD = 1.5  # seconds the emulator waits before answering an upload: the race's window


def posted(emulator: Emulator) -> int:
    return len([r for r in emulator.requests if r.path == UPLOADS and r.method == "POST"])


def service(url: str, workdir: Path, ledger_file: Path, min_rate: float) -> DocumentService:
    client = KimiClient(
        user_agent=USER_AGENT, api_key=SecretStr(CANARY_KEY), base_url=url, max_retries=0
    )
    return DocumentService(client, PathGuard([workdir]), SqliteUploadLedger(ledger_file), min_rate)


async def close(*services: DocumentService) -> None:
    for documents in services:
        await documents.client.aclose()
        await documents.ledger.aclose()


async def test_two_servers_sharing_a_data_dir_upload_a_new_file_once(
    emulator: Emulator, emulator_url: str, workdir: Path, tmp_path: Path
) -> None:
    """Two services with their own ledger connection on one file, as two processes have (the
    real-process version is tests/e2e/test_upload_claims.py): both asked for the same new file
    while the first upload is in flight; the second waits for it and reuses it."""
    (workdir / "report.txt").write_bytes(b"quarterly numbers\n" * 1000)
    emulator.inject(Fault("slow", path=UPLOADS, method="POST", delay=SLOW_UPLOAD, times=2))
    ledger_file = tmp_path / "data" / "uploads.sqlite3"
    first, second = (service(emulator_url, workdir, ledger_file, 1e6) for _ in range(2))
    results: list[Upload] = []

    async def upload(documents: DocumentService) -> None:
        deadline = anyio.current_time() + 30
        results.append(await documents.upload("report.txt", "file-extract", deadline=deadline))

    try:
        for documents in (first, second):  # opened one after the other (see the e2e test)
            assert await documents.ledger.find("0" * 64, "file-extract") is None
        async with anyio.create_task_group() as group:
            group.start_soon(upload, first)
            group.start_soon(upload, second)
    finally:
        await close(first, second)
    assert posted(emulator) == 1 and len(emulator.files) == 1
    assert {r.file.id for r in results} == set(emulator.files)
    assert sorted(r.reused for r in results) == [False, True]


async def test_a_slow_upload_gets_a_deadline_scaled_to_its_size(
    emulator: Emulator, emulator_url: str, workdir: Path, tmp_path: Path
) -> None:
    """A fixed deadline (30 s in upload_file; 0.5 s here, to keep the test short) cut a big
    file on a slow link every time: the deadline is max(given, size / upload_min_rate)."""
    (workdir / "big.bin").write_bytes(b"x" * 64 * 1024)
    emulator.inject(Fault("slow", path=UPLOADS, method="POST", delay=SLOW_UPLOAD))
    rate = 8 * 1024  # bytes/s: 64 KiB gets 8 s
    documents = service(emulator_url, workdir, tmp_path / "uploads.sqlite3", rate)
    try:
        upload = await documents.upload(
            "big.bin", "file-extract", deadline=anyio.current_time() + 0.5
        )
    finally:
        await close(documents)
    assert upload.file.bytes == 64 * 1024 and list(emulator.files) == [upload.file.id]


async def test_the_scaled_deadline_still_ends_an_upload_that_never_answers(
    emulator: Emulator, emulator_url: str, workdir: Path, tmp_path: Path
) -> None:
    """The floor rate widens the deadline; it does not remove it."""
    (workdir / "small.bin").write_bytes(b"x" * 1024)
    emulator.inject(Fault("slow", path=UPLOADS, method="POST", delay=30))
    documents = service(emulator_url, workdir, tmp_path / "uploads.sqlite3", 1024)  # 1 s
    try:
        with anyio.fail_after(10), pytest.raises(APITimeoutError):
            await documents.upload("small.bin", "file-extract", deadline=anyio.current_time())
    finally:
        await close(documents)


async def test_an_upload_whose_ledger_write_fails_leaves_no_orphan_on_kimi(
    mcp_client: Client, emulator: Emulator, workdir: Path, settings: Settings
) -> None:
    """The upload went through but the ledger could not record it (disk full, read-only): the
    copy was left on Kimi and a retry uploaded it again. Now it is deleted at once and the
    error says why; the retry, with the ledger fixed, uploads exactly one copy."""
    (workdir / "warmup.txt").write_text("opens the ledger", encoding="utf-8")
    ok(await mcp_client.call_tool("upload_file", {"path": "warmup.txt"}))
    (workdir / "report.txt").write_text("the numbers", encoding="utf-8")
    ledger = sqlite3.connect(settings.data_dir / "uploads.sqlite3")
    with ledger:  # SQLite itself refuses the write, as a full disk would
        ledger.execute(
            "CREATE TRIGGER full BEFORE INSERT ON uploads BEGIN "
            "SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    message = error_text(await mcp_client.call_tool("upload_file", {"path": "report.txt"}))
    assert "could not record" in message and "deleted from Kimi again" in message, message
    assert "disk is full" in message
    assert [f.filename for f in emulator.files.values()] == ["warmup.txt"]
    with ledger:
        ledger.execute("DROP TRIGGER full")
    ledger.close()
    retried = ok(await mcp_client.call_tool("upload_file", {"path": "report.txt"}))
    again = ok(await mcp_client.call_tool("upload_file", {"path": "report.txt"}))
    assert again["reused"] and again["id"] == retried["id"]
    assert sorted(f.filename for f in emulator.files.values()) == ["report.txt", "warmup.txt"]


async def test_a_newline_in_a_file_name_cannot_forge_an_audit_line(
    mcp_client: Client, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A name holding a newline wrote a second, forged audit line; control characters (an
    escape sequence could hide the real line on a terminal) are escaped too."""
    name = "a\nINFO kimi_mcp.audit: deleted nothing\x1b[2K\r\u2028.txt"
    (workdir / name).write_text("content", encoding="utf-8")
    caplog.clear()
    uploaded = ok(await mcp_client.call_tool("upload_file", {"path": name}))
    lines = [r.getMessage() for r in caplog.records if r.name == "kimi_mcp.audit"]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("uploaded ") and uploaded["id"] in line
    assert not any(c in line for c in "\n\r\x1b\u2028"), line
    assert "\\n" in line and "\\x1b" in line and "\\r" in line and "\\u2028" in line, line
