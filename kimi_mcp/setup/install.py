"""Add or remove the `kimi` entry in one client's config file, changing nothing else.

Planning is separate from writing: `plan_install` / `plan_uninstall` read the file and compute the
new text (a small edit, parsed back and compared with the intended result before anything is
saved); `write_change` backs the old file up and replaces it atomically. A file that does not
parse is refused untouched, with the line and column where it broke.
"""

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kimi_mcp.setup import json_config, toml_config
from kimi_mcp.setup.clients import CLIENT_LIST, Client, Roots
from kimi_mcp.setup.config_entry import ENTRY_NAME, InstallError, Outcome

_BACKUP_TRIES = 100  # same-second backups get -2, -3...; this bounds the search


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
        new_text, outcome = toml_config.install(path, text or "", entry, force)
    else:
        new_text, outcome = json_config.install(client, path, text, entry, force)
    return Change(path, text, new_text, outcome)


def plan_uninstall(client: Client, path: Path) -> Change:
    text = read_config(path)
    if text is None:
        return Change(path, None, "", "absent")
    if client.fmt == "toml":
        new_text = toml_config.uninstall(path, text)
    else:
        new_text = json_config.uninstall(client, path, text)
    return Change(path, text, new_text, "absent" if new_text == text else "removed")


def has_entry(client: Client, path: Path) -> bool:
    """The file holds a `kimi` entry (a missing or unreadable file holds none)."""
    try:
        text = read_config(path)
        if text is None:
            return False
        if client.fmt == "toml":
            servers = toml_config.parsed(path, text).get(client.servers_key)
        else:
            servers = json_config.parsed_root(path, text).value.get(client.servers_key)  # type: ignore[attr-defined]
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
