"""The path guard: only regular files inside the allowed directories, compared as real paths."""

import os
from pathlib import Path

import pytest

from kimi_mcp.errors import InputError
from kimi_mcp.files import PathGuard

pytestmark = pytest.mark.anyio


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    allowed = tmp_path / "allowed"
    outside = tmp_path / "allowed-secrets"  # shares a prefix with the allowed dir
    allowed.mkdir()
    outside.mkdir()
    (allowed / "doc.txt").write_text("inside", encoding="utf-8")
    (outside / "secret.txt").write_text("CANARY-OUTSIDE", encoding="utf-8")
    return allowed, outside


async def test_a_file_inside_is_read_with_its_digest(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    local = await PathGuard([allowed]).read(str(allowed / "doc.txt"))
    assert local.content == b"inside" and local.name == "doc.txt"
    assert len(local.sha256) == 64


async def test_relative_paths_start_at_the_first_allowed_dir(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    assert (await PathGuard([allowed]).read("doc.txt")).content == b"inside"


@pytest.mark.parametrize(
    "attack",
    [
        "{outside}/secret.txt",  # plainly outside
        "{allowed}/../allowed-secrets/secret.txt",  # traversal
        "../allowed-secrets/secret.txt",  # relative traversal
        "{allowed}/link-out",  # symlink pointing outside
        "{allowed}/dirlink/secret.txt",  # through a symlinked directory
        "/etc/passwd",
    ],
)
async def test_paths_outside_are_refused(layout: tuple[Path, Path], attack: str) -> None:
    allowed, outside = layout
    (allowed / "link-out").symlink_to(outside / "secret.txt")
    (allowed / "dirlink").symlink_to(outside)
    with pytest.raises(InputError, match="outside the allowed directories"):
        await PathGuard([allowed]).read(attack.format(allowed=allowed, outside=outside))


async def test_a_symlink_that_stays_inside_is_fine(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    (allowed / "alias.txt").symlink_to(allowed / "doc.txt")
    assert (await PathGuard([allowed]).read(str(allowed / "alias.txt"))).content == b"inside"


async def test_directories_fifos_empty_and_missing_files_are_refused(
    layout: tuple[Path, Path],
) -> None:
    allowed, _ = layout
    guard = PathGuard([allowed])
    (allowed / "sub").mkdir()
    os.mkfifo(allowed / "pipe")
    (allowed / "empty.txt").write_bytes(b"")
    with pytest.raises(InputError, match=r"not a regular file|directory"):
        await guard.read(str(allowed / "sub"))
    with pytest.raises(InputError, match="not a regular file"):
        await guard.read(str(allowed / "pipe"))  # would block forever without O_NONBLOCK
    with pytest.raises(InputError, match="empty"):
        await guard.read(str(allowed / "empty.txt"))
    with pytest.raises(InputError, match="No such file"):
        await guard.read(str(allowed / "missing.txt"))


async def test_files_over_the_limit_are_refused_before_reading(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    big = allowed / "big.bin"
    with big.open("wb") as handle:  # sparse: no real disk use
        handle.truncate(101 * 1024 * 1024)
    with pytest.raises(InputError, match="at most 100 MB"):
        await PathGuard([allowed]).read(str(big))


async def test_empty_and_nul_paths_are_refused(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    for raw in ("", "  ", "doc\x00.txt"):
        with pytest.raises(InputError):
            await PathGuard([allowed]).read(raw)
