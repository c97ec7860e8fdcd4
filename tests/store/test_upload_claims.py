"""The SQLite ledger's upload claims across real processes."""

import sys
from pathlib import Path

import anyio
import pytest

from kimi_mcp.store.sqlite_uploads import SqliteUploadLedger

pytestmark = pytest.mark.anyio

SHA = "ef" * 32
CLAIM_AND_DIE = """
import anyio, sys
from pathlib import Path
from kimi_mcp.store.sqlite_uploads import SqliteUploadLedger

async def main() -> None:
    ledger = SqliteUploadLedger(Path(sys.argv[1]))
    print(await ledger.claim(sys.argv[2], "file-extract", seconds=3600))

anyio.run(main)
"""


async def test_a_claim_of_a_process_that_is_gone_lapses_at_once(tmp_path: Path) -> None:
    """A process that claimed an upload for an hour and exited without releasing it (a crash)
    does not make the next one wait that hour: its pid is gone, so the claim is void."""
    path = tmp_path / "uploads.sqlite3"
    with anyio.fail_after(30):
        run = await anyio.run_process([sys.executable, "-c", CLAIM_AND_DIE, str(path), SHA])
    assert run.stdout.strip() not in (b"", b"None"), run.stderr
    ledger = SqliteUploadLedger(path)
    try:
        assert await ledger.claim(SHA, "file-extract", seconds=60) is not None
    finally:
        await ledger.aclose()
