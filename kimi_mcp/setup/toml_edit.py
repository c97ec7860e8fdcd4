"""The `[mcp_servers.kimi]` block of a Codex config.toml, changed by a small text edit.

tomllib reads TOML but cannot write it, and re-dumping would lose the user's comments and order;
a TOML-writing dependency (tomlkit) would keep them, but for one table the text edit is a few
lines. The block is the `[mcp_servers.kimi]` header (and any `[mcp_servers.kimi.*]` sub-table)
down to the next other table; comments just above the next table stay with it. The caller parses
the result back with tomllib and compares it with what it meant to write.
"""

import json
import re

_HEADER = re.compile(r"^[ \t]*\[")
# [mcp_servers.kimi] or a sub-table of it, the name bare or quoted, a comment allowed after.
_KIMI_HEADER = re.compile(
    r"""^[ \t]*\[[ \t]*mcp_servers[ \t]*\.[ \t]*(?:kimi|"kimi"|'kimi')[ \t]*"""
    r"""(?:\.[^\]]*)?\][ \t]*(?:\#.*)?$"""
)


def _value(value: object) -> str:
    # A JSON string is a valid TOML basic string (same escapes); so is a list of them.
    if isinstance(value, dict):
        pairs = ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items())
        return "{ " + pairs + " }"
    return json.dumps(value, ensure_ascii=False)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def render_block(entry: dict[str, object], nl: str = "\n") -> str:
    lines = ["[mcp_servers.kimi]"] + [f"{_key(k)} = {_value(v)}" for k, v in entry.items()]
    return nl.join(lines) + nl


def kimi_blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of every `[mcp_servers.kimi...]` block, in order."""
    lines = text.splitlines(keepends=True)
    heads = [line.rstrip("\r\n") for line in lines]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    spans = []
    index = 0
    while index < len(lines):
        if not _KIMI_HEADER.match(heads[index]):
            index += 1
            continue
        start = index
        index += 1
        while index < len(lines) and not (
            _HEADER.match(heads[index]) and not _KIMI_HEADER.match(heads[index])
        ):
            index += 1
        end = index
        # Comments and blank lines just above the next table belong to it.
        while end > start + 1 and (
            not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
        ):
            end -= 1
        spans.append((offsets[start], offsets[end]))
    return spans


def upsert(text: str, entry: dict[str, object]) -> str:
    nl = "\r\n" if "\r\n" in text else "\n"
    block = render_block(entry, nl)
    spans = kimi_blocks(text)
    if not spans:
        if text and not text.endswith(("\n", "\r")):
            text += nl
        return text + (nl if text.strip() else "") + block
    first_start = spans[0][0]
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return text[:first_start] + block + text[first_start:]


def remove(text: str) -> str:
    nl = "\r\n" if "\r\n" in text else "\n"
    for start, end in reversed(kimi_blocks(text)):
        before, after = text[:start].rstrip("\r\n"), text[end:].lstrip("\r\n")
        # One blank line between what was around the block, none at either end of the file.
        before = before + nl if before.strip() else ""
        text = before + (nl if before and after.strip() else "") + after
    return text
