"""The command-line options of `kimi-mcp install` and `kimi-mcp uninstall` (light to import:
the `kimi-mcp` parser is built at every start, the server's included)."""

import argparse
from typing import Any

# The names `clients.CLIENTS` holds, in its order (a test keeps the two in step): importing
# `clients`, with its dataclasses and path rules, was about 3 ms of every server start.
CLIENT_NAMES = (
    "claude-desktop",
    "claude-code",
    "cursor",
    "vscode",
    "windsurf",
    "codex",
    "gemini",
    "zed",
)


def add_install_parsers(commands: "argparse._SubParsersAction[Any]") -> None:
    """`install` and `uninstall` with their options, for the `kimi-mcp` parser."""
    for name, summary in (
        (
            "install",
            "add a 'kimi' entry to an MCP client's config file (a backup is written first)",
        ),
        ("uninstall", "remove the 'kimi' entry from an MCP client's config file"),
    ):
        command = commands.add_parser(name, help=summary, description=summary)
        command.add_argument("client", choices=list(CLIENT_NAMES))
        command.add_argument(
            "--scope",
            choices=["user", "project"],
            default="user",
            help="user config (default) or the project's, where the client has one",
        )
        command.add_argument("--dry-run", action="store_true", help="show, write nothing")
        if name == "install":
            command.add_argument(
                "--with-key",
                action="store_true",
                help="write MOONSHOT_API_KEY into the file (made 0600); without it "
                "the client passes the key from its environment or asks for it",
            )
            command.add_argument(
                "--uvx",
                action="store_true",
                help="launch with 'uvx kimi-mcp' instead of this kimi-mcp's path",
            )
            command.add_argument(
                "--force", action="store_true", help="replace a different existing 'kimi' entry"
            )
