"""The 27 `upload_file` attack cases of reliability.md 5.1, through the real MCP tool.

Layout (all under tmp_path): the allowed directory R = allowed/, the secret O =
outside/secret.txt holding OUTSIDE-CANARY, and a prefix sibling allowed-evil/. Every refusal is
a clean tool error and sends Kimi (the emulator) nothing at all; the races (cases 17, 18) are in
test_path_races.py.
"""

import hashlib
import os
import socket
import threading
import unicodedata
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError
from mcp.client.session import ClientRequestContext
from mcp.types import INTERNAL_ERROR, CallToolResult, ListRootsResult, Root, TextContent
from pydantic import FileUrl

from kimi_mcp.config import Settings, load_settings
from kimi_mcp.emulator import Emulator
from kimi_mcp.errors import InputError
from kimi_mcp.local_files.guard import PathGuard
from kimi_mcp.server import build_server
from kimi_mcp.server.roots import ROOTS_TIMEOUT
from tests.conftest import CANARY_KEY

pytestmark = pytest.mark.anyio

CANARY = b"OUTSIDE-CANARY"
HANG_BOUND = 10.0  # seconds: only detects a hang (contract: no speed targets in assertions)


@dataclass(frozen=True)
class Layout:
    root: Path  # R, the allowed directory
    secret: Path  # O, outside R
    evil: Path  # a sibling sharing R's name as a prefix


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    root, outside, evil = tmp_path / "allowed", tmp_path / "outside", tmp_path / "allowed-evil"
    for directory in (root, outside, evil):
        directory.mkdir()
    (outside / "secret.txt").write_bytes(CANARY + b" the secret\n")
    (evil / "x.txt").write_bytes(CANARY + b" evil\n")
    (root / "real.txt").write_text("inside, fine to share\n", encoding="utf-8")
    return Layout(root, outside / "secret.txt", evil)


@pytest.fixture
def settings(emulator_url: str, layout: Layout) -> Settings:
    """Overrides conftest's: the allowed directory is R (so `mcp_client` serves R only)."""
    return _settings(emulator_url, [layout.root])


def _settings(url: str, allowed: list[Path], **extra: Any) -> Settings:
    return load_settings(api_key=CANARY_KEY, base_url=url, allowed_dirs=allowed, **extra)


def _text(result: CallToolResult) -> str:
    return " ".join(b.text for b in result.content if isinstance(b, TextContent))


async def upload(client: Client, path: str) -> CallToolResult:
    with anyio.fail_after(HANG_BOUND):
        return await client.call_tool("upload_file", {"path": path})


async def refused(client: Client, path: str, reason: str) -> str:
    """Upload `path`, expect a tool error containing `reason`, return its text."""
    result = await upload(client, path)
    message = _text(result)
    assert result.is_error, f"{path!r} was accepted: {result.structured_content}"
    assert reason in message, message
    assert "Traceback" not in message and len(message) < 1000, message
    return message


async def accepted(client: Client, path: str) -> dict[str, Any]:
    result = await upload(client, path)
    assert not result.is_error, _text(result)
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None
    return structured


def nothing_sent(emulator: Emulator) -> None:
    assert emulator.requests == [], [r.path for r in emulator.requests]
    assert emulator.files == {}


def no_canary_left(emulator: Emulator) -> None:
    assert all(CANARY not in r.body for r in emulator.requests)
    assert all(CANARY not in f.content for f in emulator.files.values())


# Containment: traversal, prefixes, home, symlinks, hard links ----------------------------------


async def test_case_1_traversal_is_refused(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 1: R/../outside, R/sub/../../outside and a relative ../outside."""
    (layout.root / "sub").mkdir()
    for path in (
        f"{layout.root}/../outside/secret.txt",
        f"{layout.root}/sub/../../outside/secret.txt",
        "../outside/secret.txt",
    ):
        await refused(mcp_client, path, "outside the allowed directories")
    nothing_sent(emulator)


async def test_case_2_a_prefix_sibling_is_not_inside(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 2: allowed-evil/x.txt shares R's name as a prefix (CVE-2025-53110)."""
    await refused(mcp_client, str(layout.evil / "x.txt"), "outside the allowed directories")
    await refused(mcp_client, "../allowed-evil/x.txt", "outside the allowed directories")
    nothing_sent(emulator)


async def test_case_3_system_files_home_and_variables(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 3: /etc/passwd, ~/.ssh/id_rsa in a fake HOME, and $HOME/x (never expanded)."""
    home = Path(os.environ["HOME"])  # conftest points HOME into tmp_path
    (home / ".ssh").mkdir()
    (home / ".ssh" / "id_rsa").write_bytes(CANARY + b" key")
    (home / "x").write_bytes(CANARY + b" home file")
    await refused(mcp_client, "/etc/passwd", "outside the allowed directories")
    await refused(mcp_client, "~/.ssh/id_rsa", "outside the allowed directories")
    # `$HOME` stays literal: R/$HOME/x, which does not exist.
    await refused(mcp_client, "$HOME/x", "No such file")
    nothing_sent(emulator)


async def test_case_4_a_symlink_to_outside_is_refused(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 4: R/l -> O (CVE-2025-53109)."""
    (layout.root / "l").symlink_to(layout.secret)
    await refused(mcp_client, str(layout.root / "l"), "outside the allowed directories")
    nothing_sent(emulator)


async def test_case_5_a_symlinked_directory_to_outside_is_refused(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 5: R/d -> outside/, path R/d/secret.txt."""
    (layout.root / "d").symlink_to(layout.secret.parent, target_is_directory=True)
    await refused(mcp_client, str(layout.root / "d" / "secret.txt"), "outside the allowed")
    await refused(mcp_client, "d/secret.txt", "outside the allowed directories")
    nothing_sent(emulator)


async def test_case_6_symlink_chains_and_dangling_links(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 6: R/a -> R/b -> O, a link dangling outside and one dangling inside."""
    (layout.root / "b").symlink_to(layout.secret)
    (layout.root / "a").symlink_to(layout.root / "b")
    (layout.root / "dangling-out").symlink_to(layout.secret.parent / "nowhere.txt")
    (layout.root / "dangling-in").symlink_to(layout.root / "nowhere.txt")
    await refused(mcp_client, str(layout.root / "a"), "outside the allowed directories")
    await refused(mcp_client, "dangling-out", "outside the allowed directories")
    await refused(mcp_client, "dangling-in", "No such file")
    nothing_sent(emulator)


async def test_case_7_a_link_that_stays_inside_is_allowed(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 7: R/l -> R/real.txt is accepted (the policy, pinned); the real name is sent."""
    (layout.root / "l").symlink_to(layout.root / "real.txt")
    uploaded = await accepted(mcp_client, str(layout.root / "l"))
    stored = emulator.files[uploaded["id"]]
    assert stored.content == (layout.root / "real.txt").read_bytes()
    assert stored.filename == "real.txt"


async def test_case_8_hard_links_are_refused(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 8: a hard link in R to O (same filesystem); st_nlink > 1 is refused outright."""
    os.link(layout.secret, layout.root / "hard.txt")
    os.link(layout.root / "real.txt", layout.root / "twin.txt")  # inside too: no way to tell
    await refused(mcp_client, "hard.txt", "hard links")
    await refused(mcp_client, "twin.txt", "hard links")
    nothing_sent(emulator)


# Special files --------------------------------------------------------------------------------


PROC_AND_DEV = [
    "/proc/self/environ",
    "/proc/self/cmdline",
    "/proc/self/mem",
    f"/proc/{os.getppid()}/environ",
    "/proc/self/fd/0",
    "/dev/stdin",
]


@pytest.mark.parametrize("allowed", ["R", "/"])
async def test_case_9_proc_and_dev_are_refused_by_the_special_file_layer(
    emulator: Emulator, emulator_url: str, layout: Layout, allowed: str
) -> None:
    """case 9: /proc/self/environ and friends, also when the operator allows `/`."""
    root = layout.root if allowed == "R" else Path("/")
    async with Client(build_server(_settings(emulator_url, [root]))) as client:
        for path in PROC_AND_DEV:
            await refused(client, path, "special file")
    nothing_sent(emulator)


async def test_case_10_devices_are_refused_unread(
    emulator: Emulator, emulator_url: str, layout: Layout
) -> None:
    """case 10: /dev/zero, /dev/urandom, /dev/null: refused before any open, even under `/`."""
    async with Client(build_server(_settings(emulator_url, [Path("/")]))) as client:
        for path in ("/dev/zero", "/dev/urandom", "/dev/null"):
            await refused(client, path, "special file")
    nothing_sent(emulator)


async def test_case_11_a_fifo_without_writer_does_not_hang(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 11: a FIFO in R: O_NONBLOCK open, fstat, refused (HANG_BOUND catches a hang)."""
    os.mkfifo(layout.root / "pipe")
    await refused(mcp_client, "pipe", "not a regular file")
    nothing_sent(emulator)


async def test_case_12_sockets_and_directories_are_not_regular_files(
    mcp_client: Client, emulator: Emulator, layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """case 12: a Unix socket in R, and the directory R itself."""
    monkeypatch.chdir(layout.root)  # a relative bind keeps the socket path short (108 bytes)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("sock")
        await refused(mcp_client, str(layout.root / "sock"), "not a regular file")
    await refused(mcp_client, str(layout.root), "not a regular file")
    await refused(mcp_client, ".", "not a regular file")
    nothing_sent(emulator)


# Sizes ----------------------------------------------------------------------------------------


async def test_case_13_an_empty_file_is_refused_locally(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 13: Kimi rejects zero bytes too; we never ask."""
    (layout.root / "empty.txt").write_bytes(b"")
    await refused(mcp_client, "empty.txt", "empty")
    nothing_sent(emulator)


@contextmanager
def sparse(path: Path, size: int) -> Iterator[Path]:
    """A file of `size` zero bytes taking no disk blocks, removed afterwards (conftest's canary
    sweep reads every file under tmp_path, and would read all of it)."""
    with path.open("wb") as handle:
        handle.truncate(size)
    try:
        yield path
    finally:
        path.unlink()


async def test_case_14_oversized_sparse_files_are_refused_before_reading(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 14: limit + 1 and 5 GiB, sparse: fstat refuses them; nothing is read or sent."""
    with sparse(layout.root / "over.bin", 100 * 1024 * 1024 + 1):
        await refused(mcp_client, "over.bin", "at most 100 MB")
    with sparse(layout.root / "huge.bin", 5 * 1024**3):
        await refused(mcp_client, "huge.bin", "at most 100 MB")
    nothing_sent(emulator)


async def test_case_15_a_sparse_file_exactly_at_the_limit_is_read(layout: Layout) -> None:
    """case 15 (guard level, limit lowered): exactly max_bytes passes, max_bytes + 1 does not.

    The 100 MB upload through the tool is test_case_15_a_100_mb_file_is_uploaded (slow); its
    memory bound is tests/ask/test_upload_streaming.py (uploads stream from the checked descriptor).
    """
    limit = 1024 * 1024
    guard = PathGuard([layout.root], max_bytes=limit)
    with sparse(layout.root / "at.bin", limit) as at_limit:
        assert (await guard.read(str(at_limit))).content == bytes(limit)
    with sparse(layout.root / "over.bin", limit + 1) as over, pytest.raises(InputError):
        await guard.read(str(over))


@pytest.mark.slow
async def test_case_15_a_100_mb_file_is_uploaded(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 15: a sparse file of exactly 100 MB is accepted and arrives whole."""
    size = 100 * 1024 * 1024
    with sparse(layout.root / "limit.bin", size):
        result = await mcp_client.call_tool("upload_file", {"path": "limit.bin"})
    assert not result.is_error, _text(result)
    assert result.structured_content is not None
    assert emulator.files[result.structured_content["id"]].bytes == size


async def test_case_16_a_file_growing_during_uploads_is_never_sent_past_its_checked_size(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 16: while a thread appends, each upload sends an exact prefix or refuses."""
    growing = layout.root / "log.txt"
    growing.write_bytes(b"line 0\n")
    stop = threading.Event()

    def append() -> None:
        with growing.open("ab") as handle:
            for number in range(200_000):  # bounded in count; stopped by the test
                if stop.is_set():
                    return
                handle.write(f"line {number}\n".encode())
                handle.flush()

    writer = threading.Thread(target=append)
    writer.start()
    try:
        results = [await upload(mcp_client, "log.txt") for _ in range(20)]
    finally:
        stop.set()
        writer.join(timeout=HANG_BOUND)
    final = growing.read_bytes()
    for result in results:
        if result.is_error:
            assert "changed size" in _text(result), _text(result)
            continue
        assert result.structured_content is not None
        stored = emulator.files[result.structured_content["id"]]
        assert final.startswith(stored.content)
        assert stored.bytes == result.structured_content["bytes"] == len(stored.content)


# Odd strings ----------------------------------------------------------------------------------


async def test_case_19_nul_newline_and_overlong_paths_give_clean_errors(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 19: NUL byte, newline, a 5,000-character path, a 300-character component."""
    await refused(mcp_client, f"{layout.root}/a\x00b", "NUL byte")
    await refused(mcp_client, "real.txt\nX-Injected: 1", "No such file")
    await refused(mcp_client, "a/" * 2500, "No such file")  # walked component by component
    await refused(mcp_client, "x" * 5000, "too long")
    await refused(mcp_client, "x" * 300 + ".txt", "too long")
    nothing_sent(emulator)


async def test_case_20_check_and_use_agree_on_trailing_spaces_and_quotes(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 20: `real.txt ` is not `real.txt` (GHSA-7rgq): the exact string is checked and used."""
    await refused(mcp_client, "real.txt ", "No such file")
    await refused(mcp_client, "real.txt'", "No such file")
    nothing_sent(emulator)
    (layout.root / "real.txt ").write_bytes(b"the spaced twin\n")
    uploaded = await accepted(mcp_client, "real.txt ")
    assert emulator.files[uploaded["id"]].content == b"the spaced twin\n"


async def test_case_21_unicode_forms_and_case_are_decided_consistently(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 21: NFC vs NFD names open exactly what the string names; deny-list case folds."""
    nfc, nfd = unicodedata.normalize("NFC", "café.txt"), unicodedata.normalize("NFD", "café.txt")
    (layout.root / nfc).write_bytes(b"composed\n")
    for name in (nfc, nfd):
        result = await upload(mcp_client, name)
        on_disk = layout.root / name
        if on_disk.exists():  # a normalising filesystem maps both to one file
            assert result.structured_content is not None, _text(result)
            assert emulator.files[result.structured_content["id"]].content == on_disk.read_bytes()
        else:
            assert result.is_error and "No such file" in _text(result)
    # On a case-insensitive volume `.ENV` is `.env`: the deny list folds case either way.
    (layout.root / ".ENV").write_bytes(CANARY + b"=1")
    (layout.root / "ID_RSA").write_bytes(CANARY)
    await refused(mcp_client, ".ENV", "deny list")
    await refused(mcp_client, "ID_RSA", "deny list")
    no_canary_left(emulator)


# Secrets, the operator's and the client's boundaries ----------------------------------------


SECRET_NAMES = [
    ".env",
    ".env.local",
    "id_rsa",
    "id_ed25519.pub",
    "server.pem",
    "tls.key",
    ".netrc",
    ".git-credentials",
    ".aws/credentials",
    ".git/config",
    ".ssh/config",
    "cert.p12",
    ".pgpass",
]


async def test_case_22_secret_names_are_refused_by_the_deny_list(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 22: .env, id_rsa, *.pem, .netrc, .git-credentials, .aws/credentials, .git/config."""
    for name in SECRET_NAMES:
        path = layout.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(CANARY + b" " + name.encode())
        message = await refused(mcp_client, name, "deny list")
        assert "deny_names" in message  # says how to change it
    # Through a harmless-looking link, the real name decides.
    (layout.root / "notes.txt").symlink_to(layout.root / ".env")
    await refused(mcp_client, "notes.txt", "deny list")
    nothing_sent(emulator)


async def test_case_22_kimi_mcp_own_config_and_data_are_refused(
    emulator: Emulator, emulator_url: str, layout: Layout
) -> None:
    """case 22: kimi-mcp's own config file and its data_dir (ledger, conversations)."""
    config = layout.root / "kimi.toml"
    config.write_text("# " + CANARY.decode() + "\nanswer_cap = 80000\n", encoding="utf-8")
    data = layout.root / "state"
    data.mkdir()
    (data / "notes.txt").write_bytes(CANARY)
    settings = _settings(emulator_url, [layout.root], config=config, data_dir=data)
    async with Client(build_server(settings)) as client:
        await refused(client, "kimi.toml", "kimi-mcp's own files")
        await refused(client, "state/notes.txt", "kimi-mcp's own files")
    nothing_sent(emulator)


async def test_case_22_the_deny_list_is_configurable(
    emulator: Emulator, emulator_url: str, layout: Layout
) -> None:
    """case 22: deny_names replaces the default list (here: only *.txt)."""
    (layout.root / ".env").write_bytes(b"PUBLIC=1\n")
    settings = _settings(emulator_url, [layout.root], deny_names=["*.TXT"])
    async with Client(build_server(settings)) as client:
        await refused(client, "real.txt", "'*.TXT'")
        uploaded = await accepted(client, ".env")
    assert emulator.files[uploaded["id"]].content == b"PUBLIC=1\n"


def roots_of(*directories: Path) -> list[Root]:
    return [Root(uri=FileUrl(d.as_uri()), name=d.name) for d in directories]


@pytest.fixture(params=["legacy", "2026-07-28"])
def era(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def rooted_client(
    emulator_url: str, layout: Layout, era: str
) -> AsyncIterator[tuple[Client, list[Root]]]:
    """allowed_dirs = tmp_path (R and outside/); the client's roots: R (a list tests may change)."""
    roots = roots_of(layout.root)

    async def list_roots(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=list(roots))

    settings = _settings(emulator_url, [layout.root.parent])
    client = Client(build_server(settings), list_roots_callback=list_roots, mode=era)
    async with client:
        yield client, roots


async def test_case_23_the_allowed_set_is_the_intersection_with_the_client_roots(
    rooted_client: tuple[Client, list[Root]], emulator: Emulator, layout: Layout
) -> None:
    """case 23: outside/ is allowed by the operator but not a client root: refused (both eras)."""
    client, _ = rooted_client
    await refused(client, str(layout.secret), "outside the roots your MCP client shares")
    await accepted(client, str(layout.root / "real.txt"))
    # ask_kimi and estimate_tokens read through the same guard, under the same roots.
    ask = await client.call_tool("ask_kimi", {"prompt": "hi", "files": [str(layout.secret)]})
    assert ask.is_error and "roots your MCP client shares" in _text(ask)
    count = await client.call_tool("estimate_tokens", {"text": "x", "files": [str(layout.secret)]})
    assert count.is_error and "roots your MCP client shares" in _text(count)
    no_canary_left(emulator)


async def test_case_23_a_client_root_outside_allowed_dirs_adds_nothing(
    emulator: Emulator, emulator_url: str, layout: Layout, era: str
) -> None:
    """case 23: a root covering outside/ does not widen allowed_dirs = R."""

    async def list_roots(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=roots_of(layout.root.parent))

    server = build_server(_settings(emulator_url, [layout.root]))
    async with Client(server, list_roots_callback=list_roots, mode=era) as client:
        await refused(client, str(layout.secret), "outside the allowed directories")
    nothing_sent(emulator)


async def test_case_23_without_the_roots_capability_allowed_dirs_alone_decide(
    emulator: Emulator, emulator_url: str, layout: Layout
) -> None:
    """case 23 (the other side): no roots capability, so allowed_dirs = tmp_path decides."""
    (layout.secret.parent / "public.txt").write_bytes(b"public\n")
    async with Client(build_server(_settings(emulator_url, [layout.root.parent]))) as client:
        await accepted(client, str(layout.secret.parent / "public.txt"))


@pytest.mark.filterwarnings("ignore:The roots capability is deprecated")
async def test_case_24_roots_changed_mid_session_apply_to_the_next_call(
    emulator: Emulator, emulator_url: str, layout: Layout
) -> None:
    """case 24 (legacy era: 2026-07-28 has no list_changed): dropping R refuses later uploads."""
    roots = roots_of(layout.root)

    async def list_roots(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=list(roots))

    server = build_server(_settings(emulator_url, [layout.root.parent]))
    async with Client(server, list_roots_callback=list_roots, mode="legacy") as client:
        await accepted(client, str(layout.root / "real.txt"))
        roots[:] = roots_of(layout.secret.parent / "elsewhere")
        await client.send_roots_list_changed()
        await refused(client, str(layout.root / "real.txt"), "outside the roots")
        roots.clear()  # no roots given: allowed_dirs alone decide again
        await client.send_roots_list_changed()
        await accepted(client, str(layout.root / "real.txt"))
    no_canary_left(emulator)


async def test_a_client_that_declares_roots_but_lists_none_can_use_local_files(
    emulator: Emulator, emulator_url: str, layout: Layout, era: str
) -> None:
    """The MCP Inspector declares roots and answers an empty list: that means "no roots given",
    so allowed_dirs alone decide (before, every local path was refused, "shares (none)")."""

    async def no_roots(context: ClientRequestContext) -> ListRootsResult:
        return ListRootsResult(roots=[])

    server = build_server(_settings(emulator_url, [layout.root]))
    async with Client(server, list_roots_callback=no_roots, mode=era) as client:
        uploaded = await accepted(client, str(layout.root / "real.txt"))
        await refused(client, str(layout.secret), "outside the allowed directories")
        answer = await client.call_tool("ask_kimi", {"prompt": "hi", "files": ["real.txt"]})
        assert not answer.is_error, _text(answer)
    assert list(emulator.files) == [uploaded["id"]]


async def test_a_client_that_never_answers_roots_list_gets_an_error_not_a_hang(
    emulator: Emulator, emulator_url: str, layout: Layout
) -> None:
    """Legacy era: the SDK's roots/list waits forever; ours gives up after ROOTS_TIMEOUT."""

    async def silent(context: ClientRequestContext) -> ListRootsResult:
        # A client this slow is as good as silent; the SDK client reads nothing else while its
        # callback runs, so the callback must end for the tool result to be read at all.
        await anyio.sleep(ROOTS_TIMEOUT + 1)
        return ListRootsResult(roots=roots_of(layout.root))

    server = build_server(_settings(emulator_url, [layout.root]))
    with anyio.fail_after(ROOTS_TIMEOUT + 20):  # only a hang trips this
        async with Client(server, list_roots_callback=silent, mode="legacy") as client:
            result = await client.call_tool("upload_file", {"path": str(layout.root / "real.txt")})
            assert result.is_error and "did not answer in time" in _text(result)
            models = await client.call_tool("list_models", {})  # the session is still usable
            assert not models.is_error
    assert emulator.files == {} and [r.path for r in emulator.requests] == ["/v1/models"]


async def test_a_client_whose_roots_list_fails_gets_a_clear_tool_error(
    emulator: Emulator, emulator_url: str, layout: Layout
) -> None:
    async def failing(context: ClientRequestContext) -> ListRootsResult:
        raise MCPError(INTERNAL_ERROR, "roots are broken here")

    server = build_server(_settings(emulator_url, [layout.root]))
    async with Client(server, list_roots_callback=failing, mode="legacy") as client:
        await refused(client, str(layout.root / "real.txt"), "answered an error")
    nothing_sent(emulator)


# Content, permissions, arguments --------------------------------------------------------------


async def test_case_25_binary_content_is_uploaded_byte_identical(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 25: PDF bytes and invalid UTF-8 arrive unchanged (sha256 compared at the emulator)."""
    content = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n\xff\xfe\x00\x80 not utf-8 \xc3\x28" + bytes(
        range(256)
    )
    (layout.root / "paper.pdf").write_bytes(content)
    uploaded = await accepted(mcp_client, "paper.pdf")
    stored = emulator.files[uploaded["id"]]
    assert stored.content == content
    assert uploaded["sha256"] == hashlib.sha256(stored.content).hexdigest()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads mode-000 files: nothing to refuse")
async def test_case_26_an_unreadable_file_is_a_clean_error(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 26: mode 000."""
    locked = layout.root / "locked.txt"
    locked.write_bytes(b"private")
    locked.chmod(0)
    await refused(mcp_client, "locked.txt", "Permission denied")
    nothing_sent(emulator)


async def test_case_27_extra_arguments_are_refused(
    mcp_client: Client, emulator: Emulator, layout: Layout
) -> None:
    """case 27: api_key, base_url, headers (and client_roots, filled by the SDK) are refused."""
    extras: list[dict[str, Any]] = [
        {"api_key": "sk-attacker"},
        {"base_url": "http://127.0.0.1:9/v1"},
        {"headers": {"Authorization": "Bearer sk-attacker"}},
        {"client_roots": {"roots": []}},
    ]
    for extra in extras:
        result = await mcp_client.call_tool("upload_file", {"path": "real.txt", **extra})
        assert result.is_error and "Unknown argument" in _text(result), _text(result)
    bad = await mcp_client.call_tool("upload_file", {"path": "real.txt", "purpose": "anything"})
    assert bad.is_error
    nothing_sent(emulator)
    await accepted(mcp_client, "real.txt")  # the canary key, and only it, reaches upstream
    assert {r.headers.get("authorization") for r in emulator.requests} == {f"Bearer {CANARY_KEY}"}


# The audit line -------------------------------------------------------------------------------


async def test_every_upload_and_delete_leaves_an_audit_line(
    mcp_client: Client, layout: Layout, caplog: pytest.LogCaptureFixture
) -> None:
    """One line each (path, size, sha256, file id): sent, reused from the ledger, deleted."""
    content = (layout.root / "real.txt").read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    first = await accepted(mcp_client, "real.txt")
    again = await accepted(mcp_client, "real.txt")
    assert again["reused"] and again["id"] == first["id"]
    deleted = await mcp_client.call_tool("delete_file", {"file_id": first["id"]})
    assert not deleted.is_error
    lines = [r.getMessage() for r in caplog.records if r.name == "kimi_mcp.audit"]
    assert [line.split()[0] for line in lines] == ["uploaded", "reused", "deleted"]
    for line in lines:
        for part in (str(layout.root / "real.txt"), f"{len(content)} bytes", digest, first["id"]):
            assert part in line, line
