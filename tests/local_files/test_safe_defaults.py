"""Safe file defaults: the working directory is the default allowed directory only when it is not
the whole disk, a home directory or a system directory; the deny list covers the secret stores
of common tools; start-up says which directories are allowed.

HOME is tmp_path/home and the working directory tmp_path/work (conftest's clean_env), so a
home-like layout under tmp_path stands for a real one.
"""

import logging
import os
from pathlib import Path

import pytest
from mcp import Client

from kimi_mcp.config import load_settings, too_broad
from kimi_mcp.emulator import Emulator
from kimi_mcp.server import build_server
from tests.conftest import CANARY_KEY
from tests.tool_results import error_text, ok

pytestmark = pytest.mark.anyio

ALLOW_HINTS = ("--allow-dir", "allowed_dirs", "KIMI_MCP_ALLOWED_DIRS")
# Where common tools keep secrets, relative to a home directory: each of these was uploaded
# from a home directory before (the first six are the ones the review reproduced).
SECRET_STORES = (
    ".bash_history",
    ".config/gh/hosts.yml",
    ".config/gcloud/application_default_credentials.json",
    ".config/gcloud/credentials.db",
    ".mozilla/firefox/x1y2.default-release/logins.json",
    ".password-store/mail/gmail.gpg",
    ".vault-token",
    ".zsh_history",
    ".local/share/fish/fish_history",
    ".python_history",
    ".psql_history",
    ".mysql_history",
    ".node_repl_history",
    ".ssh/known_hosts",
    ".gnupg/pubring.kbx",
    ".aws/config",
    ".azure/msal_token_cache.json",
    ".kube/cache/discovery/servers.json",
    ".docker/config.json",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".config/op/config",
    ".config/Bitwarden/data.json",
    ".config/Bitwarden CLI/data.json",
    "Library/Group Containers/2BUA8C4S2C.com.1password/data.sqlite",
    "vault.kdbx",
    ".config/google-chrome/Default/Login Data",
    ".config/google-chrome/Default/Cookies",
    ".config/chromium/Default/Web Data",
    "Library/Application Support/Firefox/Profiles/ab.default/cookies.sqlite",
    "Library/Application Support/Google/Chrome/Local State",
    "Library/Keychains/login.keychain-db",
    ".local/share/keyrings/login.keyring",
    "infra/terraform.tfstate",
)


def _home() -> Path:
    return Path(os.environ["HOME"])


async def _upload(settings_dirs: list[Path] | None, url: str, path: str) -> tuple[bool, str]:
    extra = {} if settings_dirs is None else {"allowed_dirs": settings_dirs}
    settings = load_settings(api_key=CANARY_KEY, base_url=url, **extra)
    async with Client(build_server(settings)) as client:  # declares no roots
        result = await client.call_tool("upload_file", {"path": path})
    return result.is_error, error_text(result) if result.is_error else ""


async def test_the_root_of_the_filesystem_is_never_the_default_allowed_directory(
    emulator: Emulator, emulator_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host that starts servers in / let upload_file send /etc/shadow (and /etc/passwd)."""
    monkeypatch.chdir("/")
    assert load_settings().allowed_dirs == []
    for path in ("/etc/passwd", "/etc/shadow", "etc/hostname"):
        failed, message = await _upload(None, emulator_url, path)
        assert failed and all(hint in message for hint in ALLOW_HINTS), message
        assert "started in /, the root of the filesystem" in message
    assert emulator.files == {} and emulator.requests == []


@pytest.mark.parametrize("where", ["home", "home parent"])
async def test_a_home_directory_or_one_holding_it_is_never_the_default(
    emulator: Emulator, emulator_url: str, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    home = _home()
    (home / ".bash_history").write_text("export TOKEN=abc\n", encoding="utf-8")
    (home / "notes.txt").write_text("harmless\n", encoding="utf-8")
    monkeypatch.chdir(home if where == "home" else home.parent)
    assert load_settings().allowed_dirs == []
    failed, message = await _upload(None, emulator_url, str(home / "notes.txt"))
    assert failed and "--allow-dir" in message, message
    assert emulator.files == {}


@pytest.mark.parametrize(
    "directory", ["/etc", "/etc/ssh", "/usr/lib", "/var", "/var/lib", "/tmp", "/opt", "/root"]
)
def test_system_directories_are_never_the_default(
    directory: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/tmp itself too: every user and program leaves files there (tickets, agent sockets)."""
    assert too_broad(Path(directory)) is not None
    if Path(directory).is_dir() and os.access(directory, os.X_OK):
        monkeypatch.chdir(directory)
        assert load_settings().allowed_dirs == []


def test_a_project_directory_is_still_the_default(workdir: Path, tmp_path: Path) -> None:
    """Children of shared places are fine: tmp_path/work, like /tmp/project or /srv/site."""
    assert load_settings().allowed_dirs == [workdir.resolve()]
    assert too_broad(Path("/srv/site")) is None and too_broad(Path("/var/www/site")) is None


def test_an_explicit_root_or_home_is_honoured_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    home = _home()
    for allowed, reason in ((home, "a home directory"), (Path("/"), "the root of the filesystem")):
        caplog.clear()
        settings = load_settings(allowed_dirs=[allowed])
        assert settings.allowed_dirs == [allowed.resolve()]
        build_server(settings)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(str(allowed.resolve()) in w and reason in w for w in warnings), warnings


def test_start_up_logs_the_allowed_directories(
    workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    build_server(load_settings(allowed_dirs=[workdir]))
    infos = [r.getMessage() for r in caplog.records if r.name == "kimi_mcp.server.build"]
    assert any(r.levelno == logging.INFO for r in caplog.records if r.name.endswith("build"))
    assert any(f"Local files may be read from: {workdir.resolve()}" in m for m in infos), infos
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_start_up_warns_when_no_directory_is_allowed(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir("/")
    build_server(load_settings())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("No directory is allowed" in w and "--allow-dir" in w for w in warnings), warnings


def test_a_server_started_in_a_deleted_directory_starts_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A host that starts servers in a directory removed since: start-up crashed."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    build_server(load_settings())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("no longer exists" in w and "--allow-dir" in w for w in warnings), warnings


async def test_secret_stores_of_common_tools_are_refused_from_a_home_directory(
    emulator: Emulator, emulator_url: str
) -> None:
    """The review sent .bash_history, gh and gcloud tokens, Firefox logins, pass entries and
    .vault-token from a home directory; every store listed here is refused now."""
    home = _home()
    for relative in (*SECRET_STORES, "projects/notes.txt"):
        target = home / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"secret of {relative}\n", encoding="utf-8")
    settings = load_settings(api_key=CANARY_KEY, base_url=emulator_url, allowed_dirs=[home])
    leaked = []
    async with Client(build_server(settings)) as client:
        for relative in SECRET_STORES:
            result = await client.call_tool("upload_file", {"path": str(home / relative)})
            if not result.is_error:
                leaked.append(relative)
            else:
                assert "deny list" in error_text(result), error_text(result)
        ok(await client.call_tool("upload_file", {"path": str(home / "projects/notes.txt")}))
    assert leaked == []
    assert [f.filename for f in emulator.files.values()] == ["notes.txt"]
