"""The MCP clients `kimi-mcp install` knows: where each keeps its servers and the entry it expects.

Every path is the one the client documents (the page is named beside each entry). The OS and the
home, AppData and XDG roots are parameters (`Roots`), so every client's path on Linux, macOS and
Windows can be computed, and tested, on any machine.
"""

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath
from typing import Literal

OsName = Literal["linux", "macos", "windows"]
Scope = Literal["user", "project"]
# How an entry written without --with-key gets the key:
#   inherit      the client passes its own environment to the server (nothing to write)
#   interpolate  an `env` value the client expands from its environment (`env_reference`)
#   forward      Codex: `env_vars` names the variables it forwards
#   prompt       VS Code: an `inputs` entry the client asks for once and keeps in its secret store
KeyReference = Literal["inherit", "interpolate", "forward", "prompt"]

KEY_VARIABLE = "MOONSHOT_API_KEY"
VSCODE_INPUT_ID = "kimi-mcp-moonshot-api-key"


@dataclass(frozen=True)
class Roots:
    """The machine a config path is computed for; `from_environment()` is this one."""

    os_name: OsName
    home: str
    appdata: str | None = None  # Windows %APPDATA% (default <home>\AppData\Roaming)
    xdg_config_home: str | None = None  # Linux $XDG_CONFIG_HOME (default <home>/.config)
    codex_home: str | None = None  # $CODEX_HOME (default <home>/.codex)
    project: str = "."  # where a project-scope file goes: the working directory

    @classmethod
    def from_environment(cls) -> "Roots":
        return cls(
            os_name=current_os(),
            home=str(Path.home()),
            appdata=os.environ.get("APPDATA") or None,
            xdg_config_home=os.environ.get("XDG_CONFIG_HOME") or None,
            codex_home=os.environ.get("CODEX_HOME") or None,
            project=str(Path.cwd()),
        )

    def path(self, root: str, *parts: str) -> PurePath:
        flavour = PureWindowsPath if self.os_name == "windows" else PurePosixPath
        return flavour(root, *parts)

    def home_path(self, *parts: str) -> PurePath:
        return self.path(self.home, *parts)

    def roaming(self, *parts: str) -> PurePath:
        """Windows %APPDATA%, where Electron apps keep their user settings."""
        if self.appdata:
            return self.path(self.appdata, *parts)
        return self.home_path("AppData", "Roaming", *parts)

    def xdg_config(self, *parts: str) -> PurePath:
        if self.xdg_config_home:
            return self.path(self.xdg_config_home, *parts)
        return self.home_path(".config", *parts)

    def app_support(self, *parts: str) -> PurePath:
        return self.home_path("Library", "Application Support", *parts)


def current_os() -> OsName:
    if sys.platform == "win32":
        return "windows"
    return "macos" if sys.platform == "darwin" else "linux"


@dataclass(frozen=True)
class Client:
    name: str  # the command-line name: `kimi-mcp install <name>`
    label: str
    source: str  # the page documenting the path and the entry
    fmt: Literal["json", "toml"]
    servers_key: str
    user_path: Callable[[Roots], PurePath]
    project_path: tuple[str, ...] | None  # relative to the project; None: user scope only
    key_reference: KeyReference
    env_reference: str = ""  # for "interpolate": how the client spells an environment variable
    extra: dict[str, str] = field(default_factory=dict)  # fields the client's entry also carries
    note: str = ""  # said after an install without --with-key: where the key will come from

    def config_path(self, scope: Scope, roots: Roots) -> PurePath:
        if scope == "user":
            return self.user_path(roots)
        if self.project_path is None:
            raise ValueError(f"{self.label} has no project config")
        return roots.path(roots.project, *self.project_path)

    @property
    def scopes(self) -> tuple[Scope, ...]:
        return ("user",) if self.project_path is None else ("user", "project")


def _claude_desktop(roots: Roots) -> PurePath:
    if roots.os_name == "macos":
        return roots.app_support("Claude", "claude_desktop_config.json")
    if roots.os_name == "windows":
        return roots.roaming("Claude", "claude_desktop_config.json")
    # No official Linux build: the community builds read the XDG location.
    return roots.xdg_config("Claude", "claude_desktop_config.json")


def _vscode(roots: Roots) -> PurePath:
    if roots.os_name == "macos":
        return roots.app_support("Code", "User", "mcp.json")
    if roots.os_name == "windows":
        return roots.roaming("Code", "User", "mcp.json")
    return roots.xdg_config("Code", "User", "mcp.json")


def _zed(roots: Roots) -> PurePath:
    if roots.os_name == "windows":
        return roots.roaming("Zed", "settings.json")
    if roots.os_name == "macos":  # macOS too: Zed does not use ~/Library here
        return roots.home_path(".config", "zed", "settings.json")
    return roots.xdg_config("zed", "settings.json")


def _codex(roots: Roots) -> PurePath:
    if roots.codex_home:
        return roots.path(roots.codex_home, "config.toml")
    return roots.home_path(".codex", "config.toml")


CLIENT_LIST = (
    Client(
        # modelcontextprotocol.io/quickstart/user ("Claude Desktop"): macOS and Windows paths.
        name="claude-desktop",
        label="Claude Desktop",
        source="https://modelcontextprotocol.io/quickstart/user",
        fmt="json",
        servers_key="mcpServers",
        user_path=_claude_desktop,
        project_path=None,
        key_reference="inherit",
        note=(
            "Claude Desktop starts servers without your shell's environment: give the key with "
            "--with-key (or install the MCP Bundle), then restart Claude Desktop."
        ),
    ),
    Client(
        # code.claude.com/docs/en/mcp ("MCP installation scopes"): user = ~/.claude.json,
        # project = .mcp.json at the project root.
        name="claude-code",
        label="Claude Code",
        source="https://code.claude.com/docs/en/mcp",
        fmt="json",
        servers_key="mcpServers",
        user_path=lambda roots: roots.home_path(".claude.json"),
        project_path=(".mcp.json",),
        key_reference="inherit",
        extra={"type": "stdio"},
        note="Claude Code passes its environment on: start it where MOONSHOT_API_KEY is set.",
    ),
    Client(
        # cursor.com/docs/context/mcp: ~/.cursor/mcp.json (global), .cursor/mcp.json (project),
        # ${env:NAME} interpolation in command, args and env.
        name="cursor",
        label="Cursor",
        source="https://cursor.com/docs/context/mcp",
        fmt="json",
        servers_key="mcpServers",
        user_path=lambda roots: roots.home_path(".cursor", "mcp.json"),
        project_path=(".cursor", "mcp.json"),
        key_reference="interpolate",
        env_reference="${env:MOONSHOT_API_KEY}",
        note="Cursor reads MOONSHOT_API_KEY from the environment it was started in.",
    ),
    Client(
        # code.visualstudio.com/docs/copilot/reference/mcp-configuration: "servers" and "inputs"
        # in .vscode/mcp.json or the user profile's mcp.json (JSON with comments).
        name="vscode",
        label="VS Code",
        source="https://code.visualstudio.com/docs/copilot/reference/mcp-configuration",
        fmt="json",
        servers_key="servers",
        user_path=_vscode,
        project_path=(".vscode", "mcp.json"),
        key_reference="prompt",
        extra={"type": "stdio"},
        note="VS Code asks for the key the first time it starts kimi and keeps it as a secret.",
    ),
    Client(
        # docs.windsurf.com/windsurf/cascade/mcp: ~/.codeium/windsurf/mcp_config.json on every
        # OS, ${env:NAME} interpolation in command, args and env.
        name="windsurf",
        label="Windsurf",
        source="https://docs.windsurf.com/windsurf/cascade/mcp",
        fmt="json",
        servers_key="mcpServers",
        user_path=lambda roots: roots.home_path(".codeium", "windsurf", "mcp_config.json"),
        project_path=None,
        key_reference="interpolate",
        env_reference="${env:MOONSHOT_API_KEY}",
        note="Windsurf reads MOONSHOT_API_KEY from the environment it was started in.",
    ),
    Client(
        # developers.openai.com/codex/mcp and /codex/config-reference: [mcp_servers.<name>] in
        # $CODEX_HOME/config.toml (default ~/.codex), or .codex/config.toml in a trusted
        # project; env_vars lists the variables forwarded to the server.
        name="codex",
        label="Codex",
        source="https://developers.openai.com/codex/mcp",
        fmt="toml",
        servers_key="mcp_servers",
        user_path=_codex,
        project_path=(".codex", "config.toml"),
        key_reference="forward",
        note="Codex forwards MOONSHOT_API_KEY from its environment (env_vars).",
    ),
    Client(
        # geminicli.com/docs/tools/mcp-server and /docs/cli/configuration: mcpServers in
        # ~/.gemini/settings.json or .gemini/settings.json; $VAR / ${VAR} expanded in strings.
        name="gemini",
        label="Gemini CLI",
        source="https://geminicli.com/docs/tools/mcp-server/",
        fmt="json",
        servers_key="mcpServers",
        user_path=lambda roots: roots.home_path(".gemini", "settings.json"),
        project_path=(".gemini", "settings.json"),
        key_reference="interpolate",
        env_reference="${MOONSHOT_API_KEY}",
        note="Gemini CLI expands ${MOONSHOT_API_KEY} from the environment it was started in.",
    ),
    Client(
        # zed.dev/docs/ai/mcp ("As Custom Servers") and zed.dev/docs/configuring-zed:
        # context_servers in ~/.config/zed/settings.json ($XDG_CONFIG_HOME on Linux,
        # %APPDATA%\Zed on Windows) or .zed/settings.json; JSON with comments.
        name="zed",
        label="Zed",
        source="https://zed.dev/docs/ai/mcp",
        fmt="json",
        servers_key="context_servers",
        user_path=_zed,
        project_path=(".zed", "settings.json"),
        key_reference="inherit",
        extra={"source": "custom"},
        note="Zed passes its environment on: start it where MOONSHOT_API_KEY is set.",
    ),
)
CLIENTS = {client.name: client for client in CLIENT_LIST}


def server_entry(
    client: Client, command: str, args: list[str], key: str | None
) -> dict[str, object]:
    """The `kimi` entry for `client`: the key itself only when given (--with-key)."""
    entry: dict[str, object] = {**client.extra, "command": command, "args": args}
    if key is not None:
        entry["env"] = {KEY_VARIABLE: key}
    elif client.key_reference == "interpolate":
        entry["env"] = {KEY_VARIABLE: client.env_reference}
    elif client.key_reference == "prompt":
        entry["env"] = {KEY_VARIABLE: "${input:" + VSCODE_INPUT_ID + "}"}
    elif client.key_reference == "forward":
        entry["env_vars"] = [KEY_VARIABLE]
    return entry


def vscode_input() -> dict[str, object]:
    """The `inputs` entry VS Code prompts with (password: typed hidden, kept as a secret)."""
    return {
        "type": "promptString",
        "id": VSCODE_INPUT_ID,
        "description": "Moonshot (Kimi) API key for kimi-mcp",
        "password": True,
    }
