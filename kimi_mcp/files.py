"""The path guard: every local file kimi-mcp reads goes through `PathGuard.read`."""

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from kimi_mcp.errors import InputError

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # Kimi's per-file limit (kimi-api.md 2.5)


@dataclass(frozen=True)
class LocalFile:
    path: Path
    name: str
    content: bytes
    sha256: str


class PathGuard:
    """Allows regular files inside the allowed directories only, compared as real paths."""

    def __init__(self, allowed_dirs: list[Path], *, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self.allowed_dirs = [Path(os.path.realpath(d)) for d in allowed_dirs]
        self.max_bytes = max_bytes

    def resolve(self, raw: str) -> Path:
        """The real path of `raw` (relative paths start at the first allowed directory)."""
        if not raw.strip() or "\x00" in raw:
            raise InputError("The path is empty or contains a NUL byte; give a file path.")
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = self.allowed_dirs[0] / candidate
        real = Path(os.path.realpath(candidate))
        # Component-wise comparison: /data/x-secret is not inside /data/x.
        if not any(real == root or real.is_relative_to(root) for root in self.allowed_dirs):
            raise InputError(
                f"Refused: {raw} is outside the allowed directories "
                f"({', '.join(map(str, self.allowed_dirs))}). Copy the file into one of them, or "
                "ask the user to add its directory with --allow-dir / allowed_dirs."
            )
        return real

    async def read(self, raw: str) -> LocalFile:
        real = self.resolve(raw)
        content = await anyio.to_thread.run_sync(self._read_checked, real, raw)
        return LocalFile(real, real.name, content, hashlib.sha256(content).hexdigest())

    def _read_checked(self, real: Path, raw: str) -> bytes:
        # No-follow and non-blocking: a symlink swapped in after resolve() or a FIFO cannot
        # redirect or hang the read; the checks below run on the open descriptor itself.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(real, flags)
        except OSError as exc:
            raise InputError(_open_failure(raw, exc)) from None
        try:
            self._check_descriptor(os.fstat(fd), raw)
        except InputError:
            os.close(fd)
            raise
        with os.fdopen(fd, "rb") as handle:
            content = handle.read(self.max_bytes + 1)
        if len(content) > self.max_bytes:
            raise InputError(f"Refused: {raw} grew past the {_megabytes(self.max_bytes)} limit.")
        return content

    def _check_descriptor(self, info: os.stat_result, raw: str) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"Refused: {raw} is not a regular file (a directory or device?).")
        if info.st_size == 0:
            raise InputError(f"Refused: {raw} is empty; Kimi rejects zero-byte files.")
        if info.st_size > self.max_bytes:
            raise InputError(
                f"Refused: {raw} is {info.st_size} bytes; Kimi takes at most "
                f"{_megabytes(self.max_bytes)} per file. Split or compress it first."
            )


def _open_failure(raw: str, exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return f"No such file: {raw}. Check the path (list the directory first)."
    if exc.errno == errno.ELOOP:
        return f"Refused: {raw} is a symbolic link that changed while it was checked."
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"Permission denied reading {raw}."
    if exc.errno == errno.EISDIR:
        return f"Refused: {raw} is a directory, not a file."
    return f"Cannot open {raw}: {exc.strerror}."


def _megabytes(size: int) -> str:
    return f"{size // (1024 * 1024)} MB"
