"""Local files to Kimi file ids (uploaded once per content) and file ids to extracted text."""

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from kimi_mcp.errors import NotFoundError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.types import FileObject, file_text
from kimi_mcp.local_files.checked import CheckedFile
from kimi_mcp.local_files.guard import PathGuard
from kimi_mcp.store.uploads import LedgerEntry, UploadLedger

audit = logging.getLogger("kimi_mcp.audit")


@dataclass(frozen=True)
class Upload:
    file: FileObject
    sha256: str
    reused: bool


@dataclass(frozen=True)
class ExtractedText:
    text: str
    filename: str


@dataclass(frozen=True)
class DocumentService:
    client: KimiClient
    guard: PathGuard
    ledger: UploadLedger
    _locks: dict[str, anyio.Lock] = field(default_factory=dict, init=False, repr=False)

    async def upload(self, path: str, purpose: str, *, deadline: float) -> Upload:
        """Upload a local file unless the ledger shows Kimi already has these exact bytes."""
        async with self.guard.opened(path) as local:
            return await self._upload_local(local, purpose, deadline)

    async def _upload_local(self, local: CheckedFile, purpose: str, deadline: float) -> Upload:
        # One upload per content at a time: two calls with the same new file would otherwise
        # both miss the ledger and both upload (Kimi keeps at most 1,000 files).
        async with self._uploading(f"{purpose}:{local.sha256}"):
            return await self._upload_once(local, purpose, deadline)

    @asynccontextmanager
    async def _uploading(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not lock.statistics().tasks_waiting:
                self._locks.pop(key, None)  # the map holds only uploads in progress

    async def _upload_once(self, local: CheckedFile, purpose: str, deadline: float) -> Upload:
        known = await self.ledger.find(local.sha256, purpose)
        if known is not None:
            try:
                info = await self.client.file_info(known.file_id, deadline=deadline)
                _audit("reused", local.path, local.size, local.sha256, info.id)
                return Upload(info, local.sha256, reused=True)
            except NotFoundError:  # deleted on Kimi's side (console, another tool): send again
                await self.ledger.forget(known.file_id)
        return Upload(await self._send(local, purpose, deadline), local.sha256, reused=False)

    async def _send(self, local: CheckedFile, purpose: str, deadline: float) -> FileObject:
        uploaded = await self.client.upload_file(
            local.name, local.reader(), purpose, deadline=deadline
        )
        _audit("uploaded", local.path, local.size, local.sha256, uploaded.id)
        await self.ledger.record(
            LedgerEntry(local.sha256, purpose, uploaded.id, uploaded.filename, uploaded.bytes),
            local.path,
        )
        return uploaded

    async def file_id_for(self, path: str, *, deadline: float) -> str:
        """The id of a local document for ask_kimi; no network at all when its text is cached."""
        async with self.guard.opened(path) as local:
            known = await self.ledger.find(local.sha256, "file-extract")
            if known is not None and await self.ledger.cached_body(known.file_id) is not None:
                return known.file_id
            return (await self._upload_local(local, "file-extract", deadline)).file.id

    async def body(self, file_id: str, *, deadline: float) -> str:
        """Kimi's extracted content as sent (a JSON string), fetched once per file id."""
        cached = await self.ledger.cached_body(file_id)
        if cached is not None:
            return cached
        body = await self.client.file_content(file_id, deadline=deadline)
        await self.ledger.cache_body(file_id, body)
        return body

    async def system_messages(
        self, file_ids: Iterable[str], *, deadline: float
    ) -> list[dict[str, str]]:
        """Each document (once) as Kimi's documented pattern sends it: a system message holding
        the file's content. ask_kimi sends these and estimate_tokens counts them, alike."""
        return [
            {"role": "system", "content": await self.body(file_id, deadline=deadline)}
            for file_id in dict.fromkeys(file_ids)
        ]

    async def text(self, file_id: str, *, deadline: float) -> ExtractedText:
        """The text Kimi extracted from `file_id`, and the file's name."""
        content, filename = file_text(await self.body(file_id, deadline=deadline))
        if filename is None:
            filename = (await self.client.file_info(file_id, deadline=deadline)).filename
        return ExtractedText(content, filename)

    async def delete(self, file_id: str, *, deadline: float) -> bool:
        known = await self.ledger.describe(file_id)  # read first: forget() drops it
        deleted = await self.client.delete_file(file_id, deadline=deadline)
        await self.ledger.forget(file_id)
        if known is None:  # uploaded elsewhere (console, another machine): only Kimi knew it
            audit.info("deleted %s (not uploaded from this machine: path, size unknown)", file_id)
        else:
            entry, source = known
            _audit("deleted", source or entry.filename, entry.bytes, entry.sha256, file_id)
        return deleted.deleted


def _audit(action: str, path: object, size: int, sha256: str, file_id: str) -> None:
    """The audit line (stderr) for every upload and delete: what left or was removed, and where."""
    audit.info("%s %s (%d bytes, sha256 %s) file id %s", action, path, size, sha256, file_id)
