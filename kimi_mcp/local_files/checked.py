"""A checked file kept open, read in chunks: what uploads stream from.

The path guard (`guard`) decides which file may be read and opens it; from then on only its
descriptor is used, so what was checked is what is hashed and what is sent. Either it is hashed
first and the reader checks that the bytes sent hash the same (`CheckedFile`), or it is hashed
as it is sent, in one pass (`OnePassBody`), the digest being that of the very bytes sent.
"""

import errno
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from kimi_mcp.errors import InputError

# What identifies one version of a file without reading it: device, inode, size, and the
# modification and change times (a write, or a utime call to hide one, moves the change time).
FileVersion = tuple[int, int, int, int, int]


def version_of(info: os.stat_result) -> FileVersion:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@dataclass(frozen=True)
class OpenFile:
    """A checked file kept open, not read yet: read through its descriptor, never past `size`.

    Uploads stream from it, so a 100 MB document never sits in memory whole; the path is never
    opened again, so what was checked is what is sent.
    """

    path: Path
    name: str
    size: int
    descriptor: int
    version: FileVersion  # as checked on the descriptor when opened

    def one_pass(
        self, before_last: "LastChunkGate", on_read: Callable[[int], None] | None = None
    ) -> "OnePassBody":
        """The bytes as an upload body, hashed as they are sent (see `OnePassBody`)."""
        return OnePassBody(self, before_last, on_read)


async def hashed(file: OpenFile, shown: str) -> "CheckedFile":
    """`file` with the SHA-256 of its bytes (read in chunks, in a worker thread)."""
    digest = await anyio.to_thread.run_sync(hash_exactly, file.descriptor, file.size, shown)
    return CheckedFile(file.path, file.name, file.size, file.descriptor, file.version, digest)


@dataclass(frozen=True)
class CheckedFile(OpenFile):
    """An open checked file and the SHA-256 of its bytes, read before anything is sent."""

    sha256: str

    def reader(self, on_read: Callable[[int], None] | None = None) -> "CheckedReader":
        """A reader of the checked bytes; `on_read` hears the bytes handed out so far."""
        return CheckedReader(self, on_read)


class CheckedReader:
    """The file-like object an HTTP multipart body reads: `read`, `seek`, `tell`.

    It hashes what it hands out and refuses to finish if the bytes are not the ones hashed when
    checked (the file was rewritten in place meanwhile): the body is cut short, so Kimi never
    stores a file other than the one the ledger records.
    """

    def __init__(self, file: CheckedFile, on_read: Callable[[int], None] | None = None) -> None:
        self._file = file
        self._offset = 0
        self._hash = hashlib.sha256()
        self._on_read = on_read

    def read(self, size: int = -1) -> bytes:
        left = self._file.size - self._offset
        want = left if size < 0 else min(size, left)
        chunk = os.pread(self._file.descriptor, want, self._offset) if want > 0 else b""
        self._offset += len(chunk)
        self._hash.update(chunk)
        if len(chunk) < want or (self._offset == self._file.size and self._changed()):
            raise InputError(_rewritten(self._file.path))
        if self._on_read is not None:
            self._on_read(self._offset)
        return chunk

    def _changed(self) -> bool:
        return self._hash.hexdigest() != self._file.sha256

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if (offset, whence) == (0, os.SEEK_END):  # the length, as httpx2 asks it
            return self._file.size
        if (offset, whence) != (0, os.SEEK_SET):
            raise OSError(errno.ESPIPE, "only a rewind to the start is supported")
        self._offset, self._hash = 0, hashlib.sha256()  # a retried request reads it again
        return 0

    def tell(self) -> int:
        return self._offset


HASH_CHUNK = 1024 * 1024
SEND_CHUNK = 256 * 1024  # a one-pass body's chunk: 4x httpx2's, still little memory
LastChunkGate = Callable[[str], Awaitable[None]]


class OnePassBody:
    """The checked bytes as an async upload body, read once: hashed as they go out.

    Before the last chunk leaves, `before_last` gets the SHA-256 of the whole file (all of it
    is hashed by then) and may raise to cut the body short, so the server never receives a
    complete file: that is where the upload ledger's claim is taken. Each `async for` starts
    again at byte 0 (a retried request), hashing afresh; the digest is then `sha256`. The
    hashed bytes are the bytes sent, so no second pass is needed to check them.
    """

    def __init__(
        self, file: OpenFile, before_last: LastChunkGate, on_read: Callable[[int], None] | None
    ) -> None:
        self.file = file
        self.size = file.size
        self.sha256 = ""  # known once the last chunk is read
        self._before_last = before_last
        self._on_read = on_read

    async def __aiter__(self) -> AsyncIterator[bytes]:
        digest, offset, size = hashlib.sha256(), 0, self.size
        while offset < size:
            want = min(SEND_CHUNK, size - offset)
            chunk = os.pread(self.file.descriptor, want, offset)
            offset += len(chunk)
            digest.update(chunk)
            if len(chunk) < want:  # shrunk since checked: the body would be short
                check_size_unchanged(offset, size, str(self.file.path))
            if offset == size:
                # One byte past the end: a file that grew is refused, as the hash-first path does.
                check_size_unchanged(
                    offset + len(os.pread(self.file.descriptor, 1, size)), size, str(self.file.path)
                )
                self._refuse_rewritten()
                self.sha256 = digest.hexdigest()
                await self._before_last(self.sha256)
            if self._on_read is not None:
                self._on_read(offset)
            yield chunk

    def _refuse_rewritten(self) -> None:
        """A write while the body was read (its bytes may be torn) moved the modification time:
        the body is cut, as the hash-first path cuts a body whose bytes differ from those hashed.
        Not the change time: a rename or a new link moves it too, with the bytes the same. The
        digest is of the bytes sent either way, so this spares the user a torn file; the ledger
        needs no such check."""
        now, then = version_of(os.fstat(self.file.descriptor)), self.file.version
        if now[2:4] != then[2:4]:  # size and modification time
            raise InputError(_rewritten(self.file.path))


def hash_exactly(descriptor: int, size: int, shown: str) -> str:
    """SHA-256 of the first `size` bytes, read in chunks; the file must still be `size` long."""
    digest, offset = hashlib.sha256(), 0
    while offset < size:
        chunk = os.pread(descriptor, min(HASH_CHUNK, size - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    # One byte past the checked size: a file that grew since fstat is noticed, not cut.
    check_size_unchanged(offset + len(os.pread(descriptor, 1, size)), size, shown)
    return digest.hexdigest()


def check_size_unchanged(read: int, size: int, shown: str) -> None:
    if read != size:
        raise InputError(
            f"Refused: {shown} changed size while it was read ({size} bytes when "
            "checked). Try again once whatever writes it has finished."
        )


def _rewritten(path: Path) -> str:
    return (
        f"Refused: {path} changed while it was being uploaded; the upload was stopped before it "
        "completed. Try again once whatever writes it has finished."
    )
