"""upload_file on a slow link: progress while the body goes out, and a deadline that grows with
the file's size (upload_min_rate) instead of a fixed 30 s.

The slow link is a transport that hands the request body on one chunk at a time with a pause
between chunks, in front of the real emulator on loopback.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client

from kimi_mcp.config import load_settings
from kimi_mcp.emulator import Emulator, Fault
from kimi_mcp.server import build_server
from kimi_mcp.server.tools import TOOL_DEADLINE
from tests.conftest import CANARY_KEY
from tests.tool_results import ok

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024
CHUNK_PAUSE = 0.1  # seconds between the 64 KiB chunks of a multipart body: ~640 KiB/s


class PacedBody(httpx2.AsyncByteStream):
    def __init__(self, body: httpx2.AsyncByteStream) -> None:
        self._body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._body:
            yield chunk
            await anyio.sleep(CHUNK_PAUSE)  # the link's speed, not a wait for a race


class SlowLink(httpx2.AsyncBaseTransport):
    """Uploads (POST /v1/files) go out at a slow link's pace; everything else as usual."""

    def __init__(self) -> None:
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "POST" and request.url.path.endswith("/files"):
            assert isinstance(request.stream, httpx2.AsyncByteStream)
            request.stream = PacedBody(request.stream)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_upload_file_reports_bytes_sent_while_it_uploads(
    emulator: Emulator, emulator_url: str, workdir: Path
) -> None:
    size = MIB + 123
    (workdir / "paper.pdf").write_bytes(b"%PDF" + b"x" * (size - 4))
    settings = load_settings(api_key=CANARY_KEY, base_url=emulator_url, allowed_dirs=[workdir])
    notes: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    async with Client(build_server(settings, transport=SlowLink())) as client:
        uploaded = ok(
            await client.call_tool(
                "upload_file", {"path": "paper.pdf"}, progress_callback=on_progress
            )
        )
    print(f"upload of {size} bytes on a ~640 KiB/s link: {len(notes)} progress notes")
    assert uploaded["bytes"] == size
    assert len(notes) >= 2, notes
    values = [progress for progress, _, _ in notes]
    assert values == sorted(set(values)), "progress must increase with every notification"
    assert all(total == size for _, total, _ in notes)
    assert 0 < values[0] < size and values[-1] == size
    assert notes[-1][2] == "uploading: 1.0 MiB of 1.0 MiB sent"


async def test_upload_file_reports_no_progress_for_content_kimi_has(
    mcp_client: Client, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("same bytes", encoding="utf-8")
    ok(await mcp_client.call_tool("upload_file", {"path": "a.txt"}))
    notes: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append(progress)

    again = await mcp_client.call_tool(
        "upload_file", {"path": "a.txt"}, progress_callback=on_progress
    )
    assert ok(again)["reused"] and notes == []


@pytest.mark.slow
async def test_an_upload_slower_than_30_seconds_is_not_cut(
    emulator: Emulator, emulator_url: str, workdir: Path
) -> None:
    """upload_file had a fixed 30 s deadline: a 60 MB file on a 1.6 MB/s link never arrived.
    Here Kimi takes 31 s to answer a 100 KiB upload and upload_min_rate (1 KiB/s) gives it
    100 s; the call returns the upload (before: "did not answer before the deadline")."""
    (workdir / "scan.pdf").write_bytes(b"%PDF" + b"x" * (100 * 1024 - 4))
    emulator.inject(Fault("slow", path="/v1/files", method="POST", delay=TOOL_DEADLINE + 1))
    settings = load_settings(
        api_key=CANARY_KEY, base_url=emulator_url, allowed_dirs=[workdir], upload_min_rate=1024
    )
    with anyio.fail_after(TOOL_DEADLINE * 3):
        async with Client(build_server(settings)) as client:
            uploaded = ok(await client.call_tool("upload_file", {"path": "scan.pdf"}))
    assert list(emulator.files) == [uploaded["id"]]
