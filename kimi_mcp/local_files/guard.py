"""The path guard: every local file kimi-mcp reads goes through `PathGuard.read`.

Layers, in order (each refuses on its own, so one mistake does not open the others):
1. the raw string: empty, NUL byte;
2. the real path: special filesystems (/proc, /dev, /sys), the allowed directories and the
   client's roots (component by component), kimi-mcp's own files, the deny list of secret names;
3. the open: a walk from the allowed directory one component at a time, never following a link,
   so a file or directory swapped for a symlink after step 2 makes the open fail (no TOCTOU);
4. the open descriptor: a regular file, one hard link, within the size limit, not empty; the
   read stops at the size checked.
"""

import fnmatch
import hashlib
import os
import stat
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from kimi_mcp.errors import InputError
from kimi_mcp.local_files.checked import (
    CheckedFile,
    OpenFile,
    check_size_unchanged,
    hashed,
    version_of,
)
from kimi_mcp.local_files.no_follow import open_within
from kimi_mcp.local_files.refusals import (
    changed,
    megabytes,
    none_allowed,
    open_failure,
    shown_path,
)

MAX_UPLOAD_BYTES = 100 * 1024 * 1024  # Kimi's per-file limit (kimi-api.md 2.5)
# Kernel filesystems: files there are not documents, and reading one can leak the environment
# (/proc/self/environ holds the API key), block (/dev/stdin) or never end (/dev/zero).
SPECIAL_ROOTS = (Path("/proc"), Path("/dev"), Path("/sys"))

# The client's roots for the tool call in progress (None: the client declares no roots). A
# context variable, because the path travels through services (chat, documents) that need not
# know about MCP; set by the tool with `within_client_roots`.
_client_roots: ContextVar[tuple[Path, ...] | None] = ContextVar("client_roots", default=None)


@contextmanager
def within_client_roots(roots: Iterable[Path] | None) -> Iterator[None]:
    """Narrow every guard read in this block to `roots` too (their real paths)."""
    narrowed = None if roots is None else tuple(Path(os.path.realpath(r)) for r in roots)
    token = _client_roots.set(narrowed)
    try:
        yield
    finally:
        _client_roots.reset(token)


@dataclass(frozen=True)
class LocalFile:
    path: Path
    name: str
    content: bytes
    sha256: str


class DenyList:
    """Glob patterns (case-insensitive) matched against the path below the allowed directory.

    A pattern without '/' is matched against every component, so `.ssh` refuses anything inside
    a .ssh directory; `.git/config` is matched against consecutive components.
    """

    def __init__(self, patterns: Sequence[str]) -> None:
        self.patterns = tuple(patterns)
        self._parts = [(p, p.lower().split("/")) for p in self.patterns]

    def match(self, relative: Sequence[str]) -> str | None:
        names = [part.lower() for part in relative]
        for pattern, parts in self._parts:
            width = len(parts)
            for start in range(len(names) - width + 1):
                window = names[start : start + width]
                if all(fnmatch.fnmatchcase(n, p) for n, p in zip(window, parts, strict=True)):
                    return pattern
        return None


class PathGuard:
    """Allows regular files inside the allowed directories only, compared as real paths."""

    def __init__(
        self,
        allowed_dirs: list[Path],
        *,
        max_bytes: int = MAX_UPLOAD_BYTES,
        deny_names: Sequence[str] = (),
        protected: Sequence[Path] = (),
        why_none_allowed: str = "",
    ) -> None:
        """`why_none_allowed` says why `allowed_dirs` is empty, for the error every path gets."""
        self.allowed_dirs = [Path(os.path.realpath(d)) for d in allowed_dirs]
        self.why_none_allowed = why_none_allowed
        self.max_bytes = max_bytes
        self.deny = DenyList(deny_names)
        self.protected = [Path(os.path.realpath(p)) for p in protected]

    def resolve(self, raw: str) -> tuple[Path, Path]:
        """The real path of `raw` and the allowed directory holding it, after every path check.

        Relative paths start at the first allowed directory. `~` is expanded once, here, and
        only the resulting real path is used afterwards: check and use see the same string.
        """
        if not raw.strip() or "\x00" in raw:
            raise InputError("The path is empty or contains a NUL byte; give a file path.")
        if not self.allowed_dirs:
            raise InputError(none_allowed(raw, self.why_none_allowed))
        candidate = Path(raw).expanduser()
        if not candidate.is_absolute():
            candidate = self.allowed_dirs[0] / candidate
        try:
            real = Path(os.path.realpath(candidate))
        except OSError:  # non-strict realpath fails only when a link is swapped under it
            raise InputError(changed(raw)) from None
        _refuse_special(real, raw)
        root = self._allowed_root(real, raw)
        _refuse_outside_client_roots(real, raw)
        self._refuse_protected(real, root, raw)
        return real, root

    def _allowed_root(self, real: Path, raw: str) -> Path:
        # Component-wise comparison: /data/x-secret is not inside /data/x. The deepest match
        # wins, so the deny list and the open walk start from the nearest allowed directory.
        roots = [r for r in self.allowed_dirs if _inside(real, r)]
        if not roots:
            raise InputError(
                f"Refused: {shown_path(raw)} is outside the allowed directories "
                f"({', '.join(map(str, self.allowed_dirs))}). Copy the file into one of them, or "
                "ask the user to add its directory with --allow-dir / allowed_dirs."
            )
        return max(roots, key=lambda r: len(r.parts))

    def _refuse_protected(self, real: Path, root: Path, raw: str) -> None:
        if any(_inside(real, p) for p in self.protected):
            raise InputError(
                f"Refused: {shown_path(raw)} is one of kimi-mcp's own files (its config, or the "
                "conversation and upload store); they are never sent to Kimi."
            )
        pattern = self.deny.match(real.relative_to(root).parts)
        if pattern is not None:
            raise InputError(
                f"Refused: {shown_path(raw)} matches the deny list pattern {pattern!r} (names that "
                "usually hold keys, tokens or credentials). If only a non-secret part is needed, "
                "copy that part into a file with another name; if the file holds no secret, the "
                "user can change the deny_names setting."
            )

    async def read(self, raw: str, *, max_bytes: int | None = None) -> LocalFile:
        """The whole content (images, which go inline as base64), at most `max_bytes` (default:
        the guard's limit), checked on the open descriptor before a byte is read."""
        real, root = self.resolve(raw)
        limit = max_bytes or self.max_bytes
        content = await anyio.to_thread.run_sync(self._read_checked, real, root, raw, limit)
        return LocalFile(real, real.name, content, hashlib.sha256(content).hexdigest())

    @asynccontextmanager
    async def opened(self, raw: str) -> AsyncIterator[CheckedFile]:
        """The checked file, open and hashed (in chunks), closed when the block ends."""
        async with self.opened_unhashed(raw) as file:
            yield await self.hashed(file, raw)

    async def hashed(self, file: OpenFile, raw: str) -> CheckedFile:
        """`file` (opened from `raw`) with the SHA-256 of its bytes, read in a worker thread."""
        return await hashed(file, shown_path(raw))

    @asynccontextmanager
    async def opened_unhashed(self, raw: str) -> AsyncIterator[OpenFile]:
        """The checked file, open but not read yet (one-pass uploads hash what they send),
        closed when the block ends."""
        real, root = self.resolve(raw)
        descriptor, info = await anyio.to_thread.run_sync(self._open_checked, real, root, raw)
        try:
            yield OpenFile(real, real.name, info.st_size, descriptor, version_of(info))
        finally:
            os.close(descriptor)

    def _read_checked(self, real: Path, root: Path, raw: str, limit: int | None = None) -> bytes:
        descriptor, info = self._open_checked(real, root, raw, limit)
        size = info.st_size
        try:
            content = os.pread(descriptor, size + 1, 0)
        finally:
            os.close(descriptor)
        check_size_unchanged(len(content), size, shown_path(raw))
        return content

    def _open_checked(
        self, real: Path, root: Path, raw: str, limit: int | None = None
    ) -> tuple[int, os.stat_result]:
        """An open descriptor of `real` and what was checked on it (size at most `limit`)."""
        try:
            descriptor = open_within(root, real)
        except OSError as exc:
            raise InputError(open_failure(raw, exc)) from None
        try:
            info = os.fstat(descriptor)
            self._check_descriptor(info, raw, limit or self.max_bytes)
        except InputError:
            os.close(descriptor)
            raise
        return descriptor, info

    def _check_descriptor(self, info: os.stat_result, raw: str, limit: int) -> None:
        shown = shown_path(raw)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"Refused: {shown} is not a regular file (a directory or device?).")
        if info.st_nlink > 1:
            # Defence in depth: a hard link gives a file from outside the allowed directories an
            # inside name, and no path check can tell which name is the original.
            raise InputError(
                f"Refused: {shown} has {info.st_nlink} hard links, and a hard link can bring a "
                "file from outside the allowed directories in under an inside name. Upload a "
                "copy instead (cp makes a file with a single link)."
            )
        if info.st_size == 0:
            raise InputError(f"Refused: {shown} is empty; Kimi rejects zero-byte files.")
        if info.st_size > limit:
            raise InputError(
                f"Refused: {shown} is {info.st_size} bytes; at most {megabytes(limit)} is "
                "taken here. Split, compress or downscale it first."
            )


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or path.is_relative_to(directory)


def _refuse_special(real: Path, raw: str) -> None:
    """The special-file layer: on its own, whatever the allowed directories are (even `/`)."""
    for special in SPECIAL_ROOTS:
        if _inside(real, special):
            raise InputError(
                f"Refused: {shown_path(raw)} is a special file (under {special}: devices, "
                "processes, kernel state), not a document. Give a regular file instead."
            )


def _refuse_outside_client_roots(real: Path, raw: str) -> None:
    roots = _client_roots.get()
    if roots is not None and not any(_inside(real, r) for r in roots):
        listed = ", ".join(map(str, roots)) or "none"
        raise InputError(
            f"Refused: {shown_path(raw)} is outside the roots your MCP client shares ({listed}). "
            "Ask the user to add its folder to the client's roots, or pick a file inside them."
        )
