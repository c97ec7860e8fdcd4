"""Cases 17 and 18 of reliability.md 5.1: symlink swaps racing real uploads (slow).

A thread swaps a path between something inside the allowed directory and a symlink to the
secret outside, 1,000 times, while uploads run through the MCP tool. The guard checks the real
path, then opens by walking from the allowed directory with O_NOFOLLOW at every step, so a swap
between check and open fails the open: no upload may ever carry the canary. Each loop is bounded
in count and in time.
"""

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.types import TextContent

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.emulator import Emulator
from kimi_mcp.errors import InputError
from kimi_mcp.local_files.guard import PathGuard
from tests.conftest import CANARY_KEY

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CANARY = b"OUTSIDE-CANARY"
INSIDE = b"inside, fine to share\n"
SWAPS = 1000
UPLOADS = 200
UPLOADERS = 4
REASONS = ("outside the allowed directories", "No such file", "changed while it was checked")
TIME_BOUND = 120.0  # seconds for a whole race: detects a hang only


@pytest.fixture
def root(tmp_path: Path) -> Path:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_bytes(CANARY + b" the secret\n")
    return allowed


@pytest.fixture
def settings(emulator_url: str, root: Path) -> Settings:
    return load_settings(api_key=CANARY_KEY, base_url=emulator_url, allowed_dirs=[root])


class Swapper(threading.Thread):
    """Calls `swap(n)` for n in range(SWAPS), or until told to stop or out of time.

    Paced by the uploads, not by the clock: each upload that starts grants SWAPS // UPLOADS
    swaps, so the swaps spread over the uploads instead of all finishing before the first one.
    """

    def __init__(self, swap: Callable[[int], None]) -> None:
        super().__init__(daemon=True)
        self.swap = swap
        self.done = 0
        self.permits = threading.Semaphore(0)
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        ends = time.monotonic() + TIME_BOUND
        try:
            while self.done < SWAPS and not self.stop.is_set():
                if not self.permits.acquire(timeout=max(0.0, ends - time.monotonic())):
                    return
                if not self.stop.is_set():
                    self.swap(self.done)
                    self.done += 1
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def halt(self) -> None:
        self.stop.set()
        self.permits.release()  # wakes a waiting acquire


async def race(client: Client, path: str, swapper: Swapper) -> tuple[int, int]:
    """Upload `path` from UPLOADERS tasks while `swapper` runs; (accepted, refused) counts."""
    outcomes: list[bool] = []

    async def uploader() -> None:
        # Until both counts are reached (the swapper ends itself at SWAPS or TIME_BOUND).
        while (len(outcomes) < UPLOADS or swapper.done < SWAPS) and swapper.is_alive():
            swapper.permits.release(SWAPS // UPLOADS)
            result = await client.call_tool("upload_file", {"path": path})
            text = " ".join(b.text for b in result.content if isinstance(b, TextContent))
            assert "Traceback" not in text and CANARY.decode() not in text, text
            # A refusal is one of the guard's own messages, never the SDK's generic one.
            assert not result.is_error or any(reason in text for reason in REASONS), text
            outcomes.append(not result.is_error)

    swapper.start()
    try:
        with anyio.fail_after(TIME_BOUND + 30):
            async with anyio.create_task_group() as group:
                for _ in range(UPLOADERS):
                    group.start_soon(uploader)
    finally:
        swapper.halt()
        await anyio.to_thread.run_sync(swapper.join, TIME_BOUND)
    assert swapper.error is None, swapper.error
    assert swapper.done == SWAPS and len(outcomes) >= UPLOADS
    print(f"\n{swapper.done} swaps, {len(outcomes)} uploads: ", end="")
    return outcomes.count(True), outcomes.count(False)


def no_canary_sent(emulator: Emulator) -> None:
    assert all(CANARY not in r.body for r in emulator.requests)
    assert all(CANARY not in f.content for f in emulator.files.values())
    assert all(f.content == INSIDE for f in emulator.files.values())


async def test_case_17_a_file_swapped_with_a_symlink_never_leaks(
    mcp_client: Client, emulator: Emulator, root: Path
) -> None:
    """case 17: R/f alternates between a regular file and a symlink to O (atomic renames)."""
    target, secret = root / "f", root.parent / "outside" / "secret.txt"
    target.write_bytes(INSIDE)

    def swap(number: int) -> None:
        staged = root / f".staged-{number}"
        if number % 2:
            staged.write_bytes(INSIDE)
        else:
            staged.symlink_to(secret)
        os.replace(staged, target)  # atomic: `f` always exists, as one or the other

    accepted, refused = await race(mcp_client, str(target), Swapper(swap))
    assert accepted + refused > 0
    print(f"case 17: {accepted} accepted, {refused} refused")
    no_canary_sent(emulator)


def parent_swapper(root: Path) -> Callable[[int], None]:
    """R/d alternates between a directory holding secret.txt and a symlink to outside/."""
    directory, parked, link = root / "d", root / "d-real", root / "d-link"
    directory.mkdir()
    (directory / "secret.txt").write_bytes(INSIDE)  # same name as the one outside
    link.symlink_to(root.parent / "outside", target_is_directory=True)

    def swap(number: int) -> None:
        # A directory cannot be atomically replaced by a symlink: park it, then move the link
        # in (and back); `d` is briefly missing, which uploads see as "No such file".
        if number % 2 == 0:
            os.rename(directory, parked)
            os.rename(link, directory)
        else:
            os.rename(directory, link)
            os.rename(parked, directory)

    return swap


async def test_case_18_a_parent_directory_swapped_with_a_symlink_never_leaks(
    mcp_client: Client, emulator: Emulator, root: Path
) -> None:
    """case 18: R/d alternates between a directory and a symlink to outside/."""
    swapper = Swapper(parent_swapper(root))
    accepted, refused = await race(mcp_client, str(root / "d" / "secret.txt"), swapper)
    assert accepted + refused > 0
    print(f"case 18: {accepted} accepted, {refused} refused")
    no_canary_sent(emulator)


async def test_case_18_at_the_guard_itself_one_read_per_swap(root: Path) -> None:
    """case 18, tighter: PathGuard.read without the MCP round trip, one read per swap.

    Here the check-to-open window is hit often: with the file opened by its real path (no walk),
    about 1 read in 100 returned the outside file in a probe on the 2-core machine.
    """
    guard, swapper = PathGuard([root]), Swapper(parent_swapper(root))
    path, leaks, reads = str(root / "d" / "secret.txt"), 0, 0
    swapper.start()
    try:
        with anyio.fail_after(TIME_BOUND + 30):
            while swapper.is_alive() and reads < 20 * SWAPS:
                swapper.permits.release()
                reads += 1
                with contextlib.suppress(InputError):  # refusals are the expected outcome
                    leaks += CANARY in (await guard.read(path)).content
    finally:
        swapper.halt()
        await anyio.to_thread.run_sync(swapper.join, TIME_BOUND)
    assert swapper.error is None, swapper.error
    assert swapper.done == SWAPS
    assert leaks == 0
