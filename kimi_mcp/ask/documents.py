"""Local files to Kimi file ids (uploaded once per content) and file ids to extracted text."""

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import NoReturn

import anyio

from kimi_mcp.ask.claim_gate import ClaimGate, SeenVersions, Taken
from kimi_mcp.errors import KimiError, NotFoundError
from kimi_mcp.kimi.client import KimiClient
from kimi_mcp.kimi.types import FileObject, file_text
from kimi_mcp.local_files.checked import CheckedFile, OpenFile
from kimi_mcp.local_files.guard import PathGuard
from kimi_mcp.store.uploads import LedgerEntry, UploadLedger

audit = logging.getLogger("kimi_mcp.audit")
log = logging.getLogger(__name__)

DEFAULT_MIN_RATE = 256 * 1024  # bytes per second: a 100 MB file gets 400 s
CLAIM_POLL = 0.25  # seconds between looks at a claim another process holds
# Seconds a claim outlives its holder's deadline: room for the ledger write and clock skew.
CLAIM_GRACE = 10.0
ORPHAN_DELETE_SECONDS = 10.0

UploadHook = Callable[[int, int], None]  # (bytes sent so far, total bytes)


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
    # Bytes per second an upload is granted at least (the upload_min_rate setting).
    min_rate: float = DEFAULT_MIN_RATE
    _locks: dict[str, anyio.Lock] = field(default_factory=dict, init=False, repr=False)
    # Versions of files uploaded or reused here: their next upload is most likely a reuse.
    _seen: SeenVersions = field(default_factory=SeenVersions, init=False, repr=False)

    async def upload(
        self, path: str, purpose: str, *, deadline: float, on_progress: UploadHook | None = None
    ) -> Upload:
        """Upload a local file unless the ledger shows Kimi already has these exact bytes.

        `on_progress` hears (bytes sent, total) while the body goes out.

        A file this process has not seen (by device, inode, size and times) is most likely new:
        it is hashed while it is sent, in one pass, and the ledger is asked (and the content
        claimed) before the last chunk leaves; known content cuts the body short and is reused.
        A file seen before is hashed first, so reusing it sends nothing."""
        async with self.guard.opened_unhashed(path) as opened:
            if opened.version not in self._seen:
                sent = await self._one_pass(opened, purpose, deadline, on_progress)
                if isinstance(sent, Upload):
                    return sent
                local = CheckedFile(**vars(opened), sha256=sent)  # hashed as it was sent
            else:
                local = await self.guard.hashed(opened, path)
            return await self._upload_local(local, purpose, deadline, on_progress)

    async def _one_pass(
        self, opened: OpenFile, purpose: str, deadline: float, on_progress: UploadHook | None
    ) -> Upload | str:
        """The upload, hashed as it is sent; or, when the ledger knows the content or another
        upload of it is under way, the digest (the body was cut short: Kimi stored nothing)."""
        deadline = max(deadline, anyio.current_time() + opened.size / self.min_rate)
        gate = ClaimGate(self._locks, self.ledger, purpose, deadline + CLAIM_GRACE, self._release)
        hook = None if on_progress is None else lambda sent: on_progress(sent, opened.size)
        body = opened.one_pass(gate.before_last, hook)
        try:
            uploaded = await self.client.upload_stream(
                opened.name, body, purpose, deadline=deadline
            )
            # Recorded while the claim is held, as in the hash-first path: released before,
            # another process could find neither the claim nor the entry, and upload it again.
            return await self._recorded(
                CheckedFile(**vars(opened), sha256=body.sha256), purpose, uploaded
            )
        except Taken:
            return body.sha256
        finally:
            await gate.release()

    async def _upload_local(
        self, local: CheckedFile, purpose: str, deadline: float, on_progress: UploadHook | None
    ) -> Upload:
        # A fixed deadline would make a big file on a slow link never arrive: each upload gets
        # at least its size at the floor rate.
        deadline = max(deadline, anyio.current_time() + local.size / self.min_rate)
        # One upload per content at a time: two calls with the same new file would otherwise
        # both miss the ledger and both upload (Kimi keeps at most 1,000 files).
        async with self._uploading(f"{purpose}:{local.sha256}"):
            return await self._upload_claimed(local, purpose, deadline, on_progress)

    @asynccontextmanager
    async def _uploading(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not lock.statistics().tasks_waiting:
                self._locks.pop(key, None)  # the map holds only uploads in progress

    async def _upload_claimed(
        self, local: CheckedFile, purpose: str, deadline: float, on_progress: UploadHook | None
    ) -> Upload:
        """The known upload, else one made under the ledger's claim; while another process
        holds the claim, its result is awaited (within `deadline`) and reused."""
        while True:
            known = await self._known(local, purpose, deadline)
            if known is not None:
                return known
            seconds = deadline - anyio.current_time() + CLAIM_GRACE
            claim = await self.ledger.claim(local.sha256, purpose, seconds=seconds)
            if claim is not None:
                try:  # the other process may have recorded it between the look and the claim
                    known = await self._known(local, purpose, deadline)
                    sent = known or await self._send(local, purpose, deadline, on_progress)
                    return sent
                finally:
                    await self._release(claim)
            await _wait_for_other_process(local, deadline)

    async def _known(self, local: CheckedFile, purpose: str, deadline: float) -> Upload | None:
        known = await self.ledger.find(local.sha256, purpose)
        if known is None:
            return None
        try:
            info = await self.client.file_info(known.file_id, deadline=deadline)
        except NotFoundError:  # deleted on Kimi's side (console, another tool): send again
            await self.ledger.forget(known.file_id)
            return None
        self._seen.remember(local.version)
        _audit("reused", local.path, local.size, local.sha256, info.id)
        return Upload(info, local.sha256, reused=True)

    async def _release(self, claim: str) -> None:
        with anyio.CancelScope(shield=True):  # a cancelled call still frees the content
            try:
                await self.ledger.release(claim)
            except Exception as exc:  # it lapses on its own; the call's own outcome matters more
                log.warning("upload claim not released (it lapses by itself): %s", exc)

    async def _send(
        self, local: CheckedFile, purpose: str, deadline: float, on_progress: UploadHook | None
    ) -> Upload:
        hook = None if on_progress is None else lambda sent: on_progress(sent, local.size)
        uploaded = await self.client.upload_file(
            local.name, local.reader(hook), purpose, deadline=deadline
        )
        return await self._recorded(local, purpose, uploaded)

    async def _recorded(self, local: CheckedFile, purpose: str, uploaded: FileObject) -> Upload:
        """The upload, once the ledger holds it (else deleted again from Kimi: no orphan)."""
        _audit("uploaded", local.path, local.size, local.sha256, uploaded.id)
        entry = LedgerEntry(local.sha256, purpose, uploaded.id, uploaded.filename, uploaded.bytes)
        try:
            await self.ledger.record(entry, local.path)
        except Exception as exc:
            await self._delete_unrecorded(local, uploaded, exc)
        self._seen.remember(local.version)
        return Upload(uploaded, local.sha256, reused=False)

    async def _delete_unrecorded(
        self, local: CheckedFile, uploaded: FileObject, failure: Exception
    ) -> NoReturn:
        """Kimi has the file but the ledger does not: every retry would upload it again, up to
        Kimi's 1,000 files. So it is deleted at once; if that fails too, the error names it."""
        reason = f"{type(failure).__name__}: {failure}"
        shown = _printable(local.path)
        try:
            with anyio.CancelScope(shield=True):
                limit = anyio.current_time() + ORPHAN_DELETE_SECONDS
                await self.client.delete_file(uploaded.id, deadline=limit)
        except KimiError as exc:
            audit.warning("left on Kimi, unrecorded: %s file id %s", shown, _printable(uploaded.id))
            raise KimiError(
                f"{shown} was uploaded as {uploaded.id}, but the upload ledger could not record "
                f"it ({reason}) and deleting that copy failed too ({exc}). Delete it with "
                f"delete_file so it does not count against Kimi's 1,000 files, make the data "
                "directory writable, then try again."
            ) from None
        _audit("deleted unrecorded", local.path, local.size, local.sha256, uploaded.id)
        raise KimiError(
            f"The upload ledger could not record the upload of {shown} ({reason}), so the "
            "uploaded copy was deleted from Kimi again and nothing is left behind. Make the "
            "data directory writable (and give it free space), then try again."
        ) from None

    async def file_id_for(self, path: str, *, deadline: float) -> str:
        """The id of a local document for ask_kimi; no network at all when its text is cached."""
        async with self.guard.opened(path) as local:
            known = await self.ledger.find(local.sha256, "file-extract")
            if known is not None and await self.ledger.cached_body(known.file_id) is not None:
                return known.file_id
            return (await self._upload_local(local, "file-extract", deadline, None)).file.id

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
            audit.info(
                "deleted %s (not uploaded from this machine: path, size unknown)",
                _printable(file_id),
            )
        else:
            entry, source = known
            _audit("deleted", source or entry.filename, entry.bytes, entry.sha256, file_id)
        return deleted.deleted


async def _wait_for_other_process(local: CheckedFile, deadline: float) -> None:
    """A pause before looking again at a claim another process holds (SQLite cannot notify
    across processes, so it is polled), or an error once the deadline would pass."""
    if anyio.current_time() + CLAIM_POLL >= deadline:
        raise KimiError(
            f"Another kimi-mcp process is uploading the same content as {_printable(local.path)} "
            "and had not finished by this call's deadline; it was not sent twice. Try again in "
            "a moment: that upload will be reused."
        )
    await anyio.sleep(CLAIM_POLL)


def _audit(action: str, path: object, size: int, sha256: str, file_id: str) -> None:
    """The audit line (stderr) for every upload and delete: what left or was removed, and where."""
    shown, shown_id = _printable(path), _printable(file_id)
    audit.info("%s %s (%d bytes, sha256 %s) file id %s", action, shown, size, sha256, shown_id)


def _printable(value: object) -> str:
    """`value` on one line: a name holding a newline or other control character is quoted with
    the characters escaped, so it cannot forge or hide an audit line."""
    text = str(value)
    return text if text.isprintable() else repr(text)
