"""What a one-pass upload holds before its last chunk leaves, and the file versions that skip it.

A file hashed as it is sent (`local_files.checked.OnePassBody`) is claimed when its digest is
known, just before the last chunk: `ClaimGate` takes the content's in-process lock and the
ledger's claim there, or cuts the body (`Taken`) when the content is known or being uploaded.
"""

from collections.abc import Awaitable, Callable

import anyio

from kimi_mcp.local_files.checked import FileVersion
from kimi_mcp.store.uploads import UploadLedger

SEEN_VERSIONS = 1024  # file versions remembered (oldest forgotten first)


class SeenVersions:
    """The last SEEN_VERSIONS file versions uploaded or reused by this process."""

    def __init__(self) -> None:
        self._versions: dict[FileVersion, None] = {}

    def __contains__(self, version: object) -> bool:
        return version in self._versions

    def remember(self, version: FileVersion) -> None:
        self._versions.pop(version, None)
        self._versions[version] = None
        if len(self._versions) > SEEN_VERSIONS:
            del self._versions[next(iter(self._versions))]


class Taken(Exception):
    """The content is known, or being uploaded elsewhere: the one-pass body is cut short."""


class ClaimGate:
    """What a one-pass upload holds before its last chunk leaves: the content's in-process
    lock and the ledger's claim, as the hash-first path holds them while it sends; taken only
    when the ledger has no upload of the content, else the body is cut (`Taken`)."""

    def __init__(
        self,
        locks: dict[str, anyio.Lock],
        ledger: UploadLedger,
        purpose: str,
        claim_until: float,
        release_claim: Callable[[str], Awaitable[None]],
    ) -> None:
        """`locks`: the uploads in progress in this process, by content key; the claim lasts
        until `claim_until` (anyio clock); `release_claim` frees it, whatever happens."""
        self._locks, self._ledger, self._purpose = locks, ledger, purpose
        self._claim_until, self._release_claim = claim_until, release_claim
        self._held: tuple[str, anyio.Lock] | None = None  # the content's lock, once held
        self._claim: str | None = None
        self._sha256 = ""

    async def before_last(self, sha256: str) -> None:
        if sha256 == self._sha256:  # a retried request: what is held still holds
            return
        await self.release()  # a retry that read other bytes: this is new content
        key, locks = f"{self._purpose}:{sha256}", self._locks
        if key in locks:  # this process is uploading it: wait for that upload, then reuse
            raise Taken
        locks[key] = lock = anyio.Lock()
        lock.acquire_nowait()
        self._held = key, lock
        ledger = self._ledger
        if await ledger.find(sha256, self._purpose) is not None:
            raise Taken
        seconds = self._claim_until - anyio.current_time()
        self._claim = await ledger.claim(sha256, self._purpose, seconds=seconds)
        if self._claim is None:
            raise Taken
        self._sha256 = sha256

    async def release(self) -> None:
        """Free the claim and the lock (safe to call more than once)."""
        claim, held, self._claim, self._held, self._sha256 = self._claim, self._held, None, None, ""
        if claim is not None:
            await self._release_claim(claim)
        if held is not None:
            key, lock = held
            lock.release()  # to a waiting hash-first upload, if any: it removes the lock then
            locks = self._locks
            if locks.get(key) is lock and not lock.locked() and not lock.statistics().tasks_waiting:
                del locks[key]
