"""A checked file kept open, read in chunks: what uploads stream from.

The path guard (`guard`) decides which file may be read and opens it; from then on only its
descriptor is used, so what was checked is what is hashed and what is sent.
"""

import errno
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kimi_mcp.errors import InputError


@dataclass(frozen=True)
class CheckedFile:
    """A checked file kept open: read in chunks through its descriptor, never past `size`.

    Uploads stream from it, so a 100 MB document never sits in memory whole; the path is never
    opened again, so what was checked is what is sent.
    """

    path: Path
    name: str
    size: int
    sha256: str
    descriptor: int

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
