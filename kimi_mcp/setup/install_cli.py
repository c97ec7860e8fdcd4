"""`kimi-mcp install <client>` and `kimi-mcp uninstall <client>`: the messages and exit codes.

The entry launches the `kimi-mcp` being run (its absolute path: GUI clients do not see the
shell's PATH), or `uvx kimi-mcp` with --uvx (always the latest release, nothing installed).
"""

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from kimi_mcp.setup import toml_edit
from kimi_mcp.setup.clients import (
    CLIENTS,
    KEY_VARIABLE,
    Client,
    Roots,
    server_entry,
    vscode_input,
)
from kimi_mcp.setup.config_entry import InstallError
from kimi_mcp.setup.install import (
    plan_install,
    plan_uninstall,
    write_change,
)

EXIT_REFUSED = 1
EXIT_USAGE = 2
KEY_SHOWN_AS = f"<{KEY_VARIABLE}: written to the file, never shown>"


@dataclass(frozen=True)
class Launch:
    command: str
    args: tuple[str, ...]


def launch_command(uvx: bool, argv0: str | None = None, python: str | None = None) -> Launch:
    """What the client runs: this kimi-mcp script, else this Python with `-m kimi_mcp`."""
    if uvx:
        return Launch("uvx", ("kimi-mcp",))
    script = Path(argv0 if argv0 is not None else sys.argv[0])
    if script.name.lower().startswith("kimi-mcp") and script.is_file():
        return Launch(str(script.absolute()), ())
    # `python -m kimi_mcp`: argv[0] is __main__.py, so name the interpreter instead.
    return Launch(python or sys.executable, ("-m", "kimi_mcp"))


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    client = CLIENTS[args.client]
    if args.scope not in client.scopes:
        err.write(f"kimi-mcp: {client.label} has only a user config; drop --scope {args.scope}.\n")
        return EXIT_USAGE
    path = Path(client.config_path(args.scope, Roots.from_environment()))
    try:
        if args.command == "install":
            return _install(args, client, path, out, err)
        return _uninstall(args, client, path, out)
    except InstallError as exc:
        err.write(f"kimi-mcp: {exc}\n")
        return EXIT_REFUSED


def _install(args: argparse.Namespace, client: Client, path: Path, out: TextIO, err: TextIO) -> int:
    key = None
    if args.with_key:
        if args.scope == "project":
            err.write(
                "kimi-mcp: --with-key is refused for a project config: it is usually shared "
                "(version control). Install in the user scope, or keep the key in the "
                "environment.\n"
            )
            return EXIT_USAGE
        key = _key_from_settings(args.config)
    launch = launch_command(args.uvx)
    entry = server_entry(client, launch.command, list(launch.args), key)
    where = f"{client.label} ({args.scope} scope)"
    if args.dry_run:
        plan_install(client, path, entry, force=args.force)  # refuses what a real run would
        shown = server_entry(client, launch.command, list(launch.args), key and KEY_SHOWN_AS)
        out.write(f"Would add this to {path} for {where}:\n\n{snippet(client, shown)}\n")
        out.write("Nothing was written (--dry-run).\n")
        return 0
    change = plan_install(client, path, entry, force=args.force)
    if change.outcome == "unchanged":
        out.write(f"kimi is already installed for {where} in {path}; nothing changed.\n")
        return 0
    backup = write_change(change, private=key is not None)
    verb = "Replaced" if change.outcome == "replaced" else "Added"
    out.write(f"{verb} kimi for {where} in {path}.\n")
    if backup:
        out.write(f"The previous file is saved as {backup}.\n")
    if key is not None:
        out.write("The key is in that file (mode 0600); `kimi-mcp uninstall` removes it.\n")
    elif client.note:
        out.write(client.note + "\n")
    return 0


def _uninstall(args: argparse.Namespace, client: Client, path: Path, out: TextIO) -> int:
    change = plan_uninstall(client, path)
    where = f"{client.label} ({args.scope} scope)"
    if change.outcome == "absent":
        out.write(f"kimi is not installed for {where} in {path}; nothing changed.\n")
        return 0
    if args.dry_run:
        out.write(f"Would remove kimi for {where} from {path}. Nothing was written (--dry-run).\n")
        return 0
    backup = write_change(change, private=False)
    out.write(f"Removed kimi for {where} from {path}.\n")
    if backup:
        out.write(f"The previous file is saved as {backup}.\n")
    return 0


def _key_from_settings(config: Path | None) -> str:
    from kimi_mcp.config import load_settings  # settings only when the key is wanted

    settings = load_settings(config=config)
    if settings.api_key is None:
        raise InstallError(
            f"--with-key needs a key, and none is set: export {KEY_VARIABLE} (or put api_key in "
            "the config file) and run the command again. Nothing was changed."
        )
    return settings.api_key.get_secret_value()


def snippet(client: Client, entry: dict[str, object]) -> str:
    """The entry as it goes into the file (the caller puts KEY_SHOWN_AS in place of a key)."""
    if client.fmt == "toml":
        return toml_edit.render_block(entry)
    document: dict[str, object] = {client.servers_key: {"kimi": entry}}
    if client.key_reference == "prompt" and "${input:" in json.dumps(entry):
        document = {"inputs": [vscode_input()], **document}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
