"""The upload ledger: which local content (by SHA-256) is already on Kimi, and its extracted text.

Kimi keeps at most 1,000 files and 10 GB per account, and extraction is billed as input each
time it is read into a prompt: the same bytes are never uploaded twice, and their text is cached.
Processes sharing a data directory take turns through claims, so two of them uploading the same
new file send it once.
`UploadLedger` is the small interface callers use; `sqlite_uploads` holds the embedded default.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class LedgerEntry:
    sha256: str
    purpose: str
    file_id: str
    filename: str
    bytes: int


class UploadLedger(Protocol):
    async def check(self) -> None:
        """Usable (reachable, writable), or StoreError saying the fix: asked before billing."""

    async def find(self, sha256: str, purpose: str) -> LedgerEntry | None: ...
    async def record(self, entry: LedgerEntry, source: Path) -> None:
        """Remember an upload and the local path it came from (for the delete audit line)."""

    async def forget(self, file_id: str) -> None: ...
    async def describe(self, file_id: str) -> tuple[LedgerEntry, str | None] | None:
        """The entry of `file_id` and its local source path, if this machine uploaded it."""

    async def claim(self, sha256: str, purpose: str, *, seconds: float) -> str | None:
        """The right to upload this content, held for `seconds` by whoever calls, in any
        process sharing the ledger: a claim token, or None while another live claim holds it.
        A claim not released (its process crashed) lapses after its `seconds`."""

    async def release(self, claim: str) -> None:
        """Give up a claim (uploaded and recorded, or failed): the next caller may claim."""

    async def cached_body(self, file_id: str) -> str | None: ...
    async def cache_body(self, file_id: str, body: str) -> None: ...
    async def aclose(self) -> None: ...
