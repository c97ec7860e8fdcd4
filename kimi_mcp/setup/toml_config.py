"""The `kimi` entry in Codex's TOML config: upserted or removed as a `[mcp_servers.kimi]` table,
parsed back and compared with the intended document before it is kept."""

import copy
import tomllib
from pathlib import Path

from kimi_mcp.setup import toml_edit
from kimi_mcp.setup.config_entry import ENTRY_NAME, InstallError, Outcome, refuse_different


def parsed(path: Path, text: str) -> dict[str, object]:
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


def install(path: Path, text: str, entry: dict[str, object], force: bool) -> tuple[str, Outcome]:
    data = parsed(path, text)
    existing = _toml_servers(path, data).get(ENTRY_NAME)
    if existing == entry:
        return text, "unchanged"
    if existing is not None and not force:
        raise refuse_different(path, existing)
    _editable_block(path, text, existing)
    expected = copy.deepcopy(data)
    expected.setdefault("mcp_servers", {})[ENTRY_NAME] = entry  # type: ignore[index]
    new_text = toml_edit.upsert(text, entry)
    _check_toml(path, new_text, expected)
    return new_text, "added" if existing is None else "replaced"


def uninstall(path: Path, text: str) -> str:
    data = parsed(path, text)
    servers = _toml_servers(path, data)
    if ENTRY_NAME not in servers:
        return text
    _editable_block(path, text, servers[ENTRY_NAME])
    expected = copy.deepcopy(data)
    del expected["mcp_servers"][ENTRY_NAME]  # type: ignore[attr-defined]
    new_text = toml_edit.remove(text)
    if not expected["mcp_servers"] and "mcp_servers" not in parsed(path, new_text):
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
