"""A 100 MB upload: upload_file through kimi-mcp over stdio against the same file sent straight to
the emulator as multipart with httpx2 (streamed from disk), taking turns; and how much kimi-mcp's
resident memory grows while it uploads (VmRSS sampled every few ms, VmHWM read after).

Each upload changes the file's first bytes, so kimi-mcp's ledger never answers "already there"
(it would skip the upload). Quick mode uploads 8 MB.
"""

import hashlib
import time
from pathlib import Path

import anyio
from mcp import Client

from tests.benchmarks.speed.figures import Figure, median
from tests.benchmarks.speed.harness import (
    Upstream,
    kimi_params,
    memory_kib,
    stdio_client,
    structured,
    upstream,
)

SPEED_RATIO, RSS_GROWTH_MIB = 0.95, 4.0
SAMPLE_EVERY = 0.005  # seconds between VmRSS readings
LINE = b"kimi-mcp upload benchmark: a line of plain text to extract, nothing more.\n"


async def measure(quick: bool) -> list[Figure]:
    size, rounds = (8_000_000, 2) if quick else (100_000_000, 4)
    speeds: dict[str, list[float]] = {"kimi": [], "direct": []}
    growth_kib: list[int] = []
    async with upstream() as up, stdio_client(kimi_params(up)) as (kimi, pid):
        path = _write(up.files / "upload.txt", size)
        for index in range(rounds + 1):  # the first pair warms up (imports, first buffers)
            _stamp(path, index * 2)
            elapsed, grew = await _through_kimi(kimi, pid, path, up)
            _stamp(path, index * 2 + 1)
            direct = await _direct(up, path)
            if index:
                speeds["kimi"].append(size / elapsed)
                speeds["direct"].append(size / direct)
                growth_kib.append(grew)
        hashing = await anyio.to_thread.run_sync(_hash_seconds, path)
    return _figures(speeds, growth_kib, size, hashing)


def _write(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        whole, rest = divmod(size, len(LINE))
        out.write(LINE * whole + LINE[:rest])
    return path


def _hash_seconds(path: Path) -> float:
    """One SHA-256 pass over the file here: kimi-mcp makes one for a file it has not seen (hashed
    as it is sent, the ledger asked before the last chunk), two for one it has (the look-up
    before sending, then the check that the bytes sent are those hashed); the direct upload
    none."""
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    return time.perf_counter() - started


def _stamp(path: Path, index: int) -> None:
    with path.open("r+b") as out:
        out.write(f"{index:015d}\n".encode())


async def _forget(up: Upstream, file_id: str) -> None:
    """The emulator keeps every body it received and every file: 100 MB each."""
    (await up.http.delete(f"/files/{file_id}")).raise_for_status()
    await up.reset()


async def _through_kimi(kimi: Client, pid: int, path: Path, up: Upstream) -> tuple[float, int]:
    """Seconds upload_file takes, and the child's RSS growth (KiB) over its level before."""

    before = memory_kib(pid)
    peak = before["VmRSS"]
    async with anyio.create_task_group() as group:

        async def sample() -> None:
            nonlocal peak
            while True:
                peak = max(peak, memory_kib(pid)["VmRSS"])
                await anyio.sleep(SAMPLE_EVERY)

        group.start_soon(sample)
        started = time.perf_counter()
        uploaded = structured(await kimi.call_tool("upload_file", {"path": str(path)}))
        elapsed = time.perf_counter() - started
        group.cancel_scope.cancel()
    await _forget(up, uploaded["id"])
    after = memory_kib(pid)
    peak = max(peak, after["VmRSS"], before["VmRSS"] + after["VmHWM"] - before["VmHWM"])
    return elapsed, peak - before["VmRSS"]


async def _direct(up: Upstream, path: Path) -> float:
    started = time.perf_counter()
    with path.open("rb") as body:
        files = {"file": (path.name, body)}
        response = await up.http.post("/files", files=files, data={"purpose": "file-extract"})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    await _forget(up, response.json()["id"])
    return elapsed


def _figures(
    speeds: dict[str, list[float]], growth_kib: list[int], size: int, hashing: float
) -> list[Figure]:
    kimi, direct = median(speeds["kimi"]), median(speeds["direct"])
    ratio = kimi / direct
    growth = max(growth_kib) / 1024
    mib_s = 1024 * 1024
    return [
        Figure(
            f"upload speed, {size // 1_000_000} MB (upload_file over stdio)",
            kimi / mib_s,
            "MiB/s",
            f">= {SPEED_RATIO}x direct",
            ratio >= SPEED_RATIO,
            direct / mib_s,
            "direct httpx2 multipart upload",
            detail={
                "uploads_each": len(speeds["kimi"]),
                "bytes": size,
                "seconds_each": {k: [size / v for v in vs] for k, vs in speeds.items()},
                "one_sha256_pass_seconds": hashing,
            },
        ),
        Figure(
            "kimi-mcp RSS growth during the upload (worst)",
            growth,
            "MiB",
            f"<= {RSS_GROWTH_MIB:.0f} MiB",
            growth <= RSS_GROWTH_MIB,
            detail={"growth_kib_per_upload": growth_kib},
        ),
    ]
