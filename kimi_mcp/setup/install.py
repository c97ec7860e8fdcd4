"""Add or remove the `kimi` entry in one client's config file, changing nothing else.

Planning is separate from writing: `plan_install` / `plan_uninstall` read the file and compute the
new text (a small edit, parsed back and compared with the intended result before anything is
saved); `write_change` backs the old file up and replaces it atomically. A file that does not
parse is refused untouched, with the line and column where it broke.
"""

import copy
import json
import os
import shutil
import stat
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from kimi_mcp.errors import KimiError
from kimi_mcp.setup import jsonc, toml_edit
from kimi_mcp.setup.clients import (
    CLIENT_LIST,
    VSCODE_INPUT_ID,
    Client,
    Roots,
    vscode_input,
)

ENTRY_NAME = "kimi"
Outcome = Literal["added", "replaced", "unchanged", "removed", "absent"]
_BACKUP_TRIES = 100  # same-second backups get -2, -3...; this bounds the search


class InstallError(KimiError):
    """Install or uninstall refused; the message says why and what to do. Nothing was written."""


@dataclass(frozen=True)
class Change:
    path: Path
    old_text: str | None  # None: the file does not exist yet
    new_text: str
    outcome: Outcome


def read_config(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")  # bytes: "\r\n" stays as the file has it
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise InstallError(f"{path} is not UTF-8 text; nothing was changed.") from None
    except OSError as exc:
        raise InstallError(f"cannot read {path}: {exc.strerror}; nothing was changed.") from None


def plan_install(client: Client, path: Path, entry: dict[str, object], *, force: bool) -> Change:
    text = read_config(path)
    if client.fmt == "toml":
        new_text, outcome = _toml_install(path, text or "", entry, force)
    else:
        new_text, outcome = _json_install(client, path, text, entry, force)
    return Change(path, text, new_text, outcome)


def plan_uninstall(client: Client, path: Path) -> Change:
    text = read_config(path)
    if text is None:
        return Change(path, None, "", "absent")
    if client.fmt == "toml":
        new_text = _toml_uninstall(path, text)
    else:
        new_text = _json_uninstall(client, path, text)
    return Change(path, text, new_text, "absent" if new_text == text else "removed")


def has_entry(client: Client, path: Path) -> bool:
    """The file holds a `kimi` entry (a missing or unreadable file holds none)."""
    try:
        text = read_config(path)
        if text is None:
            return False
        if client.fmt == "toml":
            servers = _toml_parse(path, text).get(client.servers_key)
        else:
            servers = _json_root(path, text).value.get(client.servers_key)  # type: ignore[attr-defined]
    except (InstallError, AttributeError):
        return False
    return isinstance(servers, dict) and ENTRY_NAME in servers


def installed_clients(roots: Roots | None = None) -> list[tuple[str, Path]]:
    """(client name, config path) for each config that already has a `kimi` entry."""
    roots = roots or Roots.from_environment()
    found = []
    for client in CLIENT_LIST:
        for scope in client.scopes:
            path = Path(client.config_path(scope, roots))
            if has_entry(client, path):
                found.append((client.name, path))
    return found


def _refuse_different(path: Path, existing: object) -> InstallError:
    command = existing.get("command") if isinstance(existing, dict) else None
    shown = f" (command {json.dumps(command)})" if isinstance(command, str) else ""
    return InstallError(
        f"{path} already has a different '{ENTRY_NAME}' entry{shown}; nothing was changed. "
        "Rerun with --force to replace it (the file is backed up first)."
    )


# JSON and JSON with comments.


def _json_root(path: Path, text: str) -> jsonc.Node:
    try:
        root = jsonc.parse(text)
    except jsonc.JsoncError as exc:
        raise InstallError(
            f"{path} does not parse as JSON ({exc}); nothing was changed. Fix the file (or move "
            "it aside) and run the command again."
        ) from None
    if not isinstance(root.value, dict):
        raise InstallError(f"{path} does not hold a JSON object at the top; nothing was changed.")
    return root


def _servers(client: Client, path: Path, root: jsonc.Node) -> jsonc.Node | None:
    servers = root.member(client.servers_key)
    if servers is not None and not isinstance(servers.value, dict):
        raise InstallError(
            f"'{client.servers_key}' in {path} is not an object; nothing was changed."
        )
    return servers


def _json_install(
    client: Client, path: Path, text: str | None, entry: dict[str, object], force: bool
) -> tuple[str, Outcome]:
    wants_input = _uses_vscode_input(entry)
    if text is None or jsonc.is_blank(text):
        document: dict[str, object] = {client.servers_key: {ENTRY_NAME: entry}}
        if wants_input:
            document = {"inputs": [vscode_input()], **document}
        rendered = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
        kept = (text or "").rstrip()  # comments alone: keep them above the new document
        return (kept + "\n" if kept else "") + rendered, "added"
    root = _json_root(path, text)
    servers = _servers(client, path, root)
    existing = servers.member(ENTRY_NAME) if servers else None
    if existing is not None and existing.value != entry and not force:
        raise _refuse_different(path, existing.value)
    expected = copy.deepcopy(root.value)
    assert isinstance(expected, dict)
    expected.setdefault(client.servers_key, {})[ENTRY_NAME] = entry
    new_text = text
    if servers is None:
        new_text = jsonc.insert_entry(text, root, client.servers_key, {ENTRY_NAME: entry})
    elif existing is None:
        new_text = jsonc.insert_entry(text, servers, ENTRY_NAME, entry)
    elif existing.value != entry:
        start = servers.entries[servers.keys.index(ENTRY_NAME)][0]
        new_text = jsonc.replace_value(text, existing, entry, start)
    if wants_input:
        new_text = _add_vscode_input(path, new_text, expected)
    _check_json(path, new_text, expected)
    if new_text == text:
        return text, "unchanged"
    return new_text, "added" if existing is None else "replaced"


def _uses_vscode_input(entry: dict[str, object]) -> bool:
    env = entry.get("env")
    return isinstance(env, dict) and any(VSCODE_INPUT_ID in str(v) for v in env.values())


def _add_vscode_input(path: Path, text: str, expected: dict[str, object]) -> str:
    root = _json_root(path, text)
    inputs = root.member("inputs")
    if inputs is None:
        expected["inputs"] = [vscode_input()]
        return jsonc.insert_entry(text, root, "inputs", [vscode_input()])
    if not isinstance(inputs.value, list):
        raise InstallError(f"'inputs' in {path} is not a list; nothing was changed.")
    if any(isinstance(item, dict) and item.get("id") == VSCODE_INPUT_ID for item in inputs.value):
        return text
    expected["inputs"] = [*inputs.value, vscode_input()]
    return jsonc.insert_entry(text, inputs, None, vscode_input())


def _json_uninstall(client: Client, path: Path, text: str) -> str:
    if jsonc.is_blank(text):
        return text
    root = _json_root(path, text)
    servers = _servers(client, path, root)
    if servers is None or ENTRY_NAME not in servers.keys:
        return text
    expected = copy.deepcopy(root.value)
    assert isinstance(expected, dict)
    del expected[client.servers_key][ENTRY_NAME]
    new_text = jsonc.remove_entry(text, servers, servers.keys.index(ENTRY_NAME))
    inputs = jsonc.parse(new_text).member("inputs")
    if inputs is not None and isinstance(inputs.value, list):
        ours = [i for i, item in enumerate(inputs.value) if _is_our_input(item)]
        for index in reversed(ours):
            new_text = jsonc.remove_entry(new_text, inputs, index)
            inputs = jsonc.parse(new_text).member("inputs")
            assert inputs is not None
        expected["inputs"] = [item for item in expected["inputs"] if not _is_our_input(item)]
    _check_json(path, new_text, expected)
    return new_text


def _is_our_input(item: object) -> bool:
    return isinstance(item, dict) and item.get("id") == VSCODE_INPUT_ID


def _check_json(path: Path, new_text: str, expected: object) -> None:
    """The edit parses back to exactly the intended document, or nothing is written."""
    try:
        if jsonc.parse(new_text).value == expected:
            return
    except jsonc.JsoncError:
        pass
    raise InstallError(
        f"could not edit {path} safely (the result did not read back as intended); nothing was "
        "changed. Add the entry by hand: see `kimi-mcp install <client> --dry-run`."
    )


# TOML (Codex).


def _toml_parse(path: Path, text: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InstallError(
            f"{path} does not parse as TOML ({exc}); nothing was changed. Fix the file (or move "
            "it aside) and run the command again."
        ) from None


def _toml_servers(path: Path, data: dict[str, object]) -> dict[str, object]:
    servers = data.get("mcp_servers", {})
    if not isinstance(servers, dict):
        raise InstallError(f"'mcp_servers' in {path} is not a table; nothing was changed.")
    return servers


def _toml_install(
    path: Path, text: str, entry: dict[str, object], force: bool
) -> tuple[str, Outcome]:
    data = _toml_parse(path, text)
    existing = _toml_servers(path, data).get(ENTRY_NAME)
    if existing == entry:
        return text, "unchanged"
    if existing is not None and not force:
        raise _refuse_different(path, existing)
    _editable_block(path, text, existing)
    expected = copy.deepcopy(data)
    expected.setdefault("mcp_servers", {})[ENTRY_NAME] = entry  # type: ignore[index]
    new_text = toml_edit.upsert(text, entry)
    _check_toml(path, new_text, expected)
    return new_text, "added" if existing is None else "replaced"


def _toml_uninstall(path: Path, text: str) -> str:
    data = _toml_parse(path, text)
    servers = _toml_servers(path, data)
    if ENTRY_NAME not in servers:
        return text
    _editable_block(path, text, servers[ENTRY_NAME])
    expected = copy.deepcopy(data)
    del expected["mcp_servers"][ENTRY_NAME]  # type: ignore[attr-defined]
    new_text = toml_edit.remove(text)
    if not expected["mcp_servers"] and "mcp_servers" not in _toml_parse(path, new_text):
        del expected["mcp_servers"]  # it existed only through [mcp_servers.kimi]
    _check_toml(path, new_text, expected)
    return new_text


def _editable_block(path: Path, text: str, existing: object) -> None:
    if existing is not None and not toml_edit.kimi_blocks(text):
        raise InstallError(
            f"the '{ENTRY_NAME}' entry in {path} is not written as a [mcp_servers.kimi] table "
            "(an inline table or dotted keys), so it cannot be edited safely; nothing was "
            "changed. Edit it by hand."
        )


def _check_toml(path: Path, new_text: str, expected: object) -> None:
    try:
        if tomllib.loads(new_text) == expected:
            return
    except tomllib.TOMLDecodeError:
        pass
    raise InstallError(
        f"could not edit {path} safely (the result did not read back as intended, e.g. "
        "'mcp_servers' is an inline table); nothing was changed. Add the entry by hand: see "
        "`kimi-mcp install codex --dry-run`."
    )


# Writing.


def write_change(change: Change, *, private: bool, now: datetime | None = None) -> Path | None:
    """Back the old file up, then replace it atomically; returns the backup's path.

    A symlinked config (dotfiles) is written through the link. `private` (the key is in the
    file) makes the file 0600; otherwise an existing file keeps its mode.
    """
    target = change.path.resolve() if change.path.is_symlink() else change.path
    target.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    mode = _default_mode()
    if change.old_text is not None and target.exists():
        mode = stat.S_IMODE(target.stat().st_mode)
        backup = _backup(target, now or datetime.now())
    if private:
        mode = 0o600
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            file.write(change.new_text)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return backup


def _backup(target: Path, now: datetime) -> Path:
    stamp = now.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, _BACKUP_TRIES + 1):
        suffix = "" if attempt == 1 else f"-{attempt}"
        backup = target.with_name(f"{target.name}.bak-{stamp}{suffix}")
        if not backup.exists():
            shutil.copy2(target, backup)  # keeps the mode: a backup is as private as the file
            return backup
    raise InstallError(f"too many backups of {target} this second; nothing was changed.")


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
