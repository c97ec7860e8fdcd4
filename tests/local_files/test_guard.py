"""The path guard: only regular files inside the allowed directories, compared as real paths."""

import os
from pathlib import Path

import anyio.to_thread
import pytest

from kimi_mcp.errors import InputError
from kimi_mcp.local_files.guard import DenyList, PathGuard, within_client_roots

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


async def test_the_special_file_layer_refuses_even_when_everything_is_allowed() -> None:
    guard = PathGuard([Path("/")])
    for raw in ("/proc/self/environ", "/dev/zero", "/sys/kernel/hostname", "/dev/stdin"):
        with pytest.raises(InputError, match="special file"):
            await guard.read(raw)


def test_deny_patterns_match_components_case_insensitively() -> None:
    deny = DenyList([".env", "*.pem", ".git/config", ".ssh"])
    assert deny.match((".ENV",)) == ".env"
    assert deny.match(("certs", "server.PEM")) == "*.pem"
    assert deny.match(("repo", ".git", "config")) == ".git/config"
    assert deny.match((".ssh", "known_hosts")) == ".ssh"
    assert deny.match(("repo", "config")) is None
    assert deny.match(("env.txt",)) is None


async def test_a_parent_swapped_for_a_symlink_after_the_check_fails_the_open(
    layout: tuple[Path, Path],
) -> None:
    """The race of case 18 made deterministic: check, swap, then open."""
    allowed, outside = layout
    (allowed / "d").mkdir()
    (allowed / "d" / "secret.txt").write_text("inside", encoding="utf-8")
    guard = PathGuard([allowed])
    real, root = guard.resolve(str(allowed / "d" / "secret.txt"))
    (allowed / "d").rename(allowed / "parked")
    (allowed / "d").symlink_to(outside)  # outside/secret.txt holds the canary
    with pytest.raises(InputError, match="changed while it was checked"):
        await anyio.to_thread.run_sync(guard._read_checked, real, root, "d/secret.txt")


async def test_hard_links_and_protected_paths_are_refused(layout: tuple[Path, Path]) -> None:
    allowed, _ = layout
    os.link(allowed / "doc.txt", allowed / "twin.txt")
    (allowed / "state").mkdir()
    (allowed / "state" / "notes.txt").write_text("private", encoding="utf-8")
    guard = PathGuard([allowed], protected=[allowed / "state"])
    with pytest.raises(InputError, match="hard links"):
        await guard.read("twin.txt")
    with pytest.raises(InputError, match="own files"):
        await guard.read("state/notes.txt")


async def test_client_roots_narrow_the_allowed_dirs(layout: tuple[Path, Path]) -> None:
    allowed, outside = layout
    guard = PathGuard([allowed.parent])
    with within_client_roots([allowed]):
        assert (await guard.read(str(allowed / "doc.txt"))).content == b"inside"
        with pytest.raises(InputError, match="roots your MCP client shares"):
            await guard.read(str(outside / "secret.txt"))
    assert (await guard.read(str(outside / "secret.txt"))).content == b"CANARY-OUTSIDE"
