"""The `kimi` entry in a JSON (or JSON with comments) client config: added, replaced or removed by
a small edit of the text, parsed back and compared with the intended document before it is kept.
VS Code's entry also needs its key prompt in `inputs`."""

import copy
import json
from pathlib import Path

from kimi_mcp.setup import jsonc
from kimi_mcp.setup.clients import VSCODE_INPUT_ID, Client, vscode_input
from kimi_mcp.setup.config_entry import ENTRY_NAME, InstallError, Outcome, refuse_different


def parsed_root(path: Path, text: str) -> jsonc.Node:
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


def install(
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
    root = parsed_root(path, text)
    servers = _servers(client, path, root)
    existing = servers.member(ENTRY_NAME) if servers else None
    if existing is not None and existing.value != entry and not force:
        raise refuse_different(path, existing.value)
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
    root = parsed_root(path, text)
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


def uninstall(client: Client, path: Path, text: str) -> str:
    if jsonc.is_blank(text):
        return text
    root = parsed_root(path, text)
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
