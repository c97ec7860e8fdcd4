"""`kimi-mcp install` / `uninstall` against a fake home: every client, every OS's path style."""

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kimi_mcp.__main__ import main
from kimi_mcp.setup import jsonc
from kimi_mcp.setup.clients import CLIENT_LIST, CLIENTS, Client, OsName, Roots
from kimi_mcp.setup.install import installed_clients
from kimi_mcp.setup.install_args import CLIENT_NAMES as PARSER_CLIENT_NAMES
from kimi_mcp.setup.install_cli import launch_command

# Not the canary: a file written with --with-key holds it, and the canary sweep reads tmp_path.
TEST_KEY = "sk-install-test-4f2a9d81c7e05b36"
CLIENT_NAMES = [client.name for client in CLIENT_LIST]
SUBPROCESS_TIMEOUT = 60  # seconds: only bounds a hang


@pytest.fixture(autouse=True)
def home(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CODEX_HOME", "APPDATA"):
        monkeypatch.delenv(name, raising=False)
    return Path.home()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


def user_path(name: str) -> Path:
    return Path(CLIENTS[name].config_path("user", Roots.from_environment()))


def read_servers(client: Client, path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = tomllib.loads(text) if client.fmt == "toml" else jsonc.parse(text).value
    assert isinstance(data, dict)
    servers = data[client.servers_key]
    assert isinstance(servers, dict)
    return servers


# Paths: the documented place of each client, in each OS's style.

ROOTS = {
    "linux": Roots("linux", "/home/ann"),
    "macos": Roots("macos", "/Users/ann"),
    "windows": Roots("windows", "C:\\Users\\ann", appdata="C:\\Users\\ann\\AppData\\Roaming"),
}
EXPECTED_USER_PATHS = {
    "claude-desktop": (
        "/home/ann/.config/Claude/claude_desktop_config.json",
        "/Users/ann/Library/Application Support/Claude/claude_desktop_config.json",
        "C:\\Users\\ann\\AppData\\Roaming\\Claude\\claude_desktop_config.json",
    ),
    "claude-code": (
        "/home/ann/.claude.json",
        "/Users/ann/.claude.json",
        "C:\\Users\\ann\\.claude.json",
    ),
    "cursor": (
        "/home/ann/.cursor/mcp.json",
        "/Users/ann/.cursor/mcp.json",
        "C:\\Users\\ann\\.cursor\\mcp.json",
    ),
    "vscode": (
        "/home/ann/.config/Code/User/mcp.json",
        "/Users/ann/Library/Application Support/Code/User/mcp.json",
        "C:\\Users\\ann\\AppData\\Roaming\\Code\\User\\mcp.json",
    ),
    "windsurf": (
        "/home/ann/.codeium/windsurf/mcp_config.json",
        "/Users/ann/.codeium/windsurf/mcp_config.json",
        "C:\\Users\\ann\\.codeium\\windsurf\\mcp_config.json",
    ),
    "codex": (
        "/home/ann/.codex/config.toml",
        "/Users/ann/.codex/config.toml",
        "C:\\Users\\ann\\.codex\\config.toml",
    ),
    "gemini": (
        "/home/ann/.gemini/settings.json",
        "/Users/ann/.gemini/settings.json",
        "C:\\Users\\ann\\.gemini\\settings.json",
    ),
    "zed": (
        "/home/ann/.config/zed/settings.json",
        "/Users/ann/.config/zed/settings.json",
        "C:\\Users\\ann\\AppData\\Roaming\\Zed\\settings.json",
    ),
}
EXPECTED_PROJECT_PATHS = {
    "claude-code": ".mcp.json",
    "cursor": ".cursor/mcp.json",
    "vscode": ".vscode/mcp.json",
    "codex": ".codex/config.toml",
    "gemini": ".gemini/settings.json",
    "zed": ".zed/settings.json",
}


def test_the_parser_offers_every_client_install_knows() -> None:
    """The parser keeps its own copy of the names (importing `clients` slowed every start)."""
    assert tuple(CLIENTS) == PARSER_CLIENT_NAMES


@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_every_client_has_its_documented_user_path_on_every_os(name: str, os_name: OsName) -> None:
    expected = EXPECTED_USER_PATHS[name][("linux", "macos", "windows").index(os_name)]
    assert str(CLIENTS[name].config_path("user", ROOTS[os_name])) == expected


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_project_paths_are_the_documented_ones_and_only_where_the_client_has_one(
    name: str,
) -> None:
    client = CLIENTS[name]
    roots = Roots("linux", "/home/ann", project="/work/app")
    if name not in EXPECTED_PROJECT_PATHS:
        assert client.scopes == ("user",)
        return
    expected = "/work/app/" + EXPECTED_PROJECT_PATHS[name]
    assert str(client.config_path("project", roots)) == expected


def test_xdg_config_home_and_codex_home_move_the_linux_paths() -> None:
    roots = Roots("linux", "/home/ann", xdg_config_home="/xdg", codex_home="/codex")
    assert str(CLIENTS["vscode"].config_path("user", roots)) == "/xdg/Code/User/mcp.json"
    assert str(CLIENTS["zed"].config_path("user", roots)) == "/xdg/zed/settings.json"
    assert str(CLIENTS["codex"].config_path("user", roots)) == "/codex/config.toml"


def test_windows_appdata_defaults_under_the_home() -> None:
    roots = Roots("windows", "C:\\Users\\ann")
    assert str(CLIENTS["vscode"].config_path("user", roots)) == (
        "C:\\Users\\ann\\AppData\\Roaming\\Code\\User\\mcp.json"
    )


# Install into a fresh home.


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_install_creates_the_config_with_a_kimi_entry_the_client_reads(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "install", name)
    assert code == 0
    path = user_path(name)
    assert f"Added kimi for {CLIENTS[name].label} (user scope) in {path}" in out
    entry = read_servers(CLIENTS[name], path)["kimi"]
    assert isinstance(entry, dict)
    assert Path(entry["command"]).is_absolute()


def test_each_client_gets_the_key_its_own_way_without_the_key_itself(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", TEST_KEY)
    entries: dict[str, Any] = {}
    for name in CLIENT_NAMES:
        code, out, err = run(capsys, "install", name)
        assert code == 0
        assert TEST_KEY not in out + err
        assert TEST_KEY not in user_path(name).read_text(encoding="utf-8")
        entries[name] = read_servers(CLIENTS[name], user_path(name))["kimi"]
    assert entries["cursor"]["env"] == {"MOONSHOT_API_KEY": "${env:MOONSHOT_API_KEY}"}
    assert entries["windsurf"]["env"] == {"MOONSHOT_API_KEY": "${env:MOONSHOT_API_KEY}"}
    assert entries["gemini"]["env"] == {"MOONSHOT_API_KEY": "${MOONSHOT_API_KEY}"}
    assert entries["codex"]["env_vars"] == ["MOONSHOT_API_KEY"]
    assert entries["vscode"] == {**entries["vscode"], "type": "stdio"}
    assert entries["vscode"]["env"] == {"MOONSHOT_API_KEY": "${input:kimi-mcp-moonshot-api-key}"}
    vscode = json.loads(user_path("vscode").read_text(encoding="utf-8"))
    assert vscode["inputs"] == [
        {
            "type": "promptString",
            "id": "kimi-mcp-moonshot-api-key",
            "description": "Moonshot (Kimi) API key for kimi-mcp",
            "password": True,
        }
    ]
    assert entries["zed"]["source"] == "custom"
    for name in ("claude-desktop", "claude-code", "zed"):  # they pass their environment on
        assert "env" not in entries[name]


# Merging into a config the user already has.

CURSOR_CONFIG = """\
{
  "mcpServers": {
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"]
    }
  },
  "other": true
}
"""
VSCODE_CONFIG = """\
// My MCP servers (VS Code reads comments here)
{
    "inputs": [
        // the GitHub token
        { "type": "promptString", "id": "gh", "password": true },
    ],
    "servers": {
        "github": { "type": "stdio", "command": "gh-mcp" }, // trailing comma below
    },
}
"""
ZED_CONFIG = """\
// Zed settings
{
  "theme": "One Dark",
  /* servers */
  "context_servers": {
    "local": { "source": "custom", "command": "local-mcp", "args": [] } // mine
  }
}
"""
CODEX_CONFIG = """\
# Codex settings
model = "gpt-5"

[mcp_servers.docs]  # documentation lookups
command = "docs-mcp"
args = ["--fast"]

# sandbox below
[sandbox]
mode = "workspace-write"
"""
EXISTING = {
    "cursor": CURSOR_CONFIG,
    "vscode": VSCODE_CONFIG,
    "zed": ZED_CONFIG,
    "codex": CODEX_CONFIG,
}


@pytest.mark.parametrize("name", sorted(EXISTING))
def test_install_keeps_other_servers_comments_and_layout(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = user_path(name)
    path.parent.mkdir(parents=True)
    path.write_text(EXISTING[name], encoding="utf-8")
    assert run(capsys, "install", name)[0] == 0
    text = path.read_text(encoding="utf-8")
    for line in EXISTING[name].splitlines():  # every line stays (a comma may be added to one)
        assert line.replace(",", "") in text.replace(",", "")
    servers = read_servers(CLIENTS[name], path)
    assert set(servers) == {"kimi", *read_servers_text(CLIENTS[name], EXISTING[name])}


def read_servers_text(client: Client, text: str) -> dict[str, object]:
    data = tomllib.loads(text) if client.fmt == "toml" else jsonc.parse(text).value
    assert isinstance(data, dict)
    servers = data[client.servers_key]
    assert isinstance(servers, dict)
    return servers


@pytest.mark.parametrize("name", sorted(EXISTING))
def test_uninstall_after_install_gives_back_the_file_as_it_was(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = user_path(name)
    path.parent.mkdir(parents=True)
    path.write_text(EXISTING[name], encoding="utf-8")
    assert run(capsys, "install", name)[0] == 0
    code, out, _ = run(capsys, "uninstall", name)
    assert code == 0
    assert f"Removed kimi for {CLIENTS[name].label}" in out
    assert path.read_text(encoding="utf-8") == EXISTING[name]


@pytest.mark.parametrize(
    "text",
    [
        '{\n  "numStartups": 12,\n  "projects": {}\n}\n',  # ~/.claude.json before any server
        '{"mcpServers": {"a": {"command": "x"}}}',  # one line stays one line
        '{\n  "mcpServers": {}\n}\n',
        "",
        "// nothing yet\n",
    ],
)
def test_install_and_uninstall_fit_any_shape_of_json_file(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = user_path("claude-code")
    path.write_text(text, encoding="utf-8")
    assert run(capsys, "install", "claude-code")[0] == 0
    after_install = jsonc.parse(path.read_text(encoding="utf-8")).value
    assert isinstance(after_install, dict)
    before = jsonc.parse(text).value if not jsonc.is_blank(text) else {}
    assert isinstance(before, dict)
    assert {k: v for k, v in after_install.items() if k != "mcpServers"} == {
        k: v for k, v in before.items() if k != "mcpServers"
    }
    assert run(capsys, "uninstall", "claude-code")[0] == 0
    after_uninstall = jsonc.parse(path.read_text(encoding="utf-8")).value
    assert after_uninstall == {**before, "mcpServers": before.get("mcpServers", {})}
    if text.startswith("{") and "\n" not in text:
        assert "\n" not in path.read_text(encoding="utf-8")
    if text.startswith("//"):
        assert path.read_text(encoding="utf-8").startswith(text)


def test_crlf_file_keeps_its_line_endings(capsys: pytest.CaptureFixture[str]) -> None:
    path = user_path("cursor")
    path.parent.mkdir(parents=True)
    path.write_bytes(CURSOR_CONFIG.replace("\n", "\r\n").encode())
    assert run(capsys, "install", "cursor")[0] == 0
    data = path.read_bytes()
    assert b"\r\n" in data
    assert b"\n" not in data.replace(b"\r\n", b"")


# Idempotence, backup, dry run, uninstall.


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_second_install_changes_nothing_and_says_so(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "install", name)
    path = user_path(name)
    before = path.read_bytes()
    code, out, _ = run(capsys, "install", name)
    assert code == 0
    assert "already installed" in out
    assert "nothing changed" in out
    assert path.read_bytes() == before
    assert list(path.parent.glob(path.name + ".bak-*")) == []  # nothing changed, no backup


def test_backup_of_the_previous_file_is_written_first(capsys: pytest.CaptureFixture[str]) -> None:
    path = user_path("cursor")
    path.parent.mkdir(parents=True)
    path.write_text(CURSOR_CONFIG, encoding="utf-8")
    _, out, _ = run(capsys, "install", "cursor")
    (backup,) = path.parent.glob("mcp.json.bak-*")
    assert backup.read_text(encoding="utf-8") == CURSOR_CONFIG
    assert f"The previous file is saved as {backup}" in out
    run(capsys, "uninstall", "cursor")
    assert len(list(path.parent.glob("mcp.json.bak-*"))) == 2  # same second: a second name


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_dry_run_prints_the_path_and_snippet_and_writes_nothing(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "install", name, "--dry-run")
    assert code == 0
    assert str(user_path(name)) in out
    assert "kimi" in out
    assert "Nothing was written" in out
    assert not user_path(name).exists()
    assert not user_path(name).parent.exists() or not any(user_path(name).parent.iterdir())


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_uninstall_removes_only_kimi_and_a_second_one_changes_nothing(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "uninstall", name)[1].startswith("kimi is not installed")
    run(capsys, "install", name)
    assert run(capsys, "uninstall", name)[0] == 0
    path = user_path(name)
    assert "kimi" not in read_servers(CLIENTS[name], path) if path.read_text().strip() else True
    before = path.read_bytes()
    code, out, _ = run(capsys, "uninstall", name)
    assert code == 0
    assert "not installed" in out
    assert path.read_bytes() == before


# The key.


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_with_key_writes_the_key_and_makes_the_file_0600(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", TEST_KEY)
    code, out, err = run(capsys, "install", name, "--with-key")
    assert code == 0
    assert TEST_KEY not in out + err
    path = user_path(name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = read_servers(CLIENTS[name], path)["kimi"]
    assert isinstance(entry, dict)
    assert entry["env"] == {"MOONSHOT_API_KEY": TEST_KEY}


def test_with_key_keeps_an_existing_file_private(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", TEST_KEY)
    path = user_path("cursor")
    path.parent.mkdir(parents=True)
    path.write_text(CURSOR_CONFIG, encoding="utf-8")
    path.chmod(0o644)
    assert run(capsys, "install", "cursor", "--with-key")[0] == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TEST_KEY in path.read_text(encoding="utf-8")


def test_with_key_dry_run_never_shows_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", TEST_KEY)
    code, out, err = run(capsys, "install", "claude-desktop", "--with-key", "--dry-run")
    assert code == 0
    assert TEST_KEY not in out + err
    assert "never shown" in out


def test_with_key_and_no_key_set_is_refused_and_writes_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "install", "claude-desktop", "--with-key")
    assert code == 1
    assert "MOONSHOT_API_KEY" in err
    assert not user_path("claude-desktop").exists()


def test_with_key_is_refused_for_a_project_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", TEST_KEY)
    code, _, err = run(capsys, "install", "cursor", "--scope", "project", "--with-key")
    assert code == 2
    assert "project" in err
    assert not (clean_env / ".cursor").exists()


# Refusals.

BROKEN_JSON = '{\n  "mcpServers": {\n    "github": { "command": "npx" }\n  \n}\n'
BROKEN_TOML = '[mcp_servers.docs]\ncommand = "docs-mcp\n'


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [("cursor", BROKEN_JSON, "line 6, column 1"), ("codex", BROKEN_TOML, "line 2")],
)
def test_a_config_that_does_not_parse_is_refused_unchanged_saying_where(
    name: str, text: str, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = user_path(name)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    for command in ("install", "uninstall"):
        code, _, err = run(capsys, command, name)
        assert code == 1
        assert str(path) in err
        assert where in err
        assert "nothing was changed" in err
        assert path.read_text(encoding="utf-8") == text
        assert list(path.parent.glob("*.bak-*")) == []


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_a_different_kimi_entry_is_replaced_only_with_force(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "install", name, "--uvx")
    path = user_path(name)
    before = path.read_bytes()
    code, _, err = run(capsys, "install", name)
    assert code == 1
    assert "different 'kimi' entry" in err
    assert '"uvx"' in err
    assert "--force" in err
    assert path.read_bytes() == before
    code, out, _ = run(capsys, "install", name, "--force")
    assert code == 0
    assert out.startswith("Replaced kimi")
    entry = read_servers(CLIENTS[name], path)["kimi"]
    assert isinstance(entry, dict)
    assert entry["command"] != "uvx"


def test_uvx_launches_the_published_package() -> None:
    launch = launch_command(uvx=True)
    assert (launch.command, launch.args) == ("uvx", ("kimi-mcp",))


def test_python_dash_m_launches_this_interpreter(tmp_path: Path) -> None:
    launch = launch_command(uvx=False, argv0=str(tmp_path / "__main__.py"), python="/py/python3")
    assert (launch.command, launch.args) == ("/py/python3", ("-m", "kimi_mcp"))
    script = tmp_path / "kimi-mcp"
    script.write_text("#!/bin/sh\n")
    assert launch_command(uvx=False, argv0=str(script)).command == str(script)


def test_a_client_without_project_config_refuses_project_scope(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "install", "windsurf", "--scope", "project")
    assert code == 2
    assert "only a user config" in err


def test_project_scope_writes_in_the_working_directory(
    capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    assert run(capsys, "install", "claude-code", "--scope", "project")[0] == 0
    data = json.loads((clean_env / ".mcp.json").read_text(encoding="utf-8"))
    assert set(data["mcpServers"]) == {"kimi"}
    assert not user_path("claude-code").exists()


def test_a_symlinked_config_is_written_through_the_link(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dotfiles = tmp_path / "dotfiles" / "mcp.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text(CURSOR_CONFIG, encoding="utf-8")
    link = user_path("cursor")
    link.parent.mkdir(parents=True)
    link.symlink_to(dotfiles)
    assert run(capsys, "install", "cursor")[0] == 0
    assert link.is_symlink()
    assert "kimi" in json.loads(dotfiles.read_text(encoding="utf-8"))["mcpServers"]


def test_installed_clients_lists_the_configs_holding_kimi(
    capsys: pytest.CaptureFixture[str], clean_env: Path
) -> None:
    broken = user_path("gemini")
    broken.parent.mkdir(parents=True)
    broken.write_text("{ not json", encoding="utf-8")  # unreadable: simply not listed
    run(capsys, "install", "codex")
    run(capsys, "install", "vscode", "--scope", "project")
    found = installed_clients(Roots.from_environment())
    assert found == [("vscode", clean_env / ".vscode" / "mcp.json"), ("codex", user_path("codex"))]


@pytest.mark.subprocess
def test_the_real_command_dry_run_prints_the_snippet(tmp_path: Path, home: Path) -> None:
    env = {**os.environ, "HOME": str(home)}
    script = Path(sys.executable).with_name("kimi-mcp")
    done = subprocess.run(
        [str(script), "install", "claude-desktop", "--dry-run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert str(home / ".config" / "Claude" / "claude_desktop_config.json") in done.stdout
    assert f'"command": "{script}"' in done.stdout
    assert not (home / ".config" / "Claude").exists()
